#include "model/tokenizer/unicode.h"

#include <utf8proc.h>

#include <cstdlib>

#include "common/error.h"

namespace headscope::tok {

uint32_t next_cp(std::string_view s, size_t& i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) { ++i; return c; }
  int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  uint32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
  for (int k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += len;
  return cp;
}

uint32_t prev_cp(std::string_view s, size_t end, size_t* start_out) {
  size_t b = end - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  if (start_out) *start_out = b;
  size_t i = b;
  return next_cp(s, i);
}

void append_utf8(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

size_t count_code_points(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool is_white_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool is_word_char(uint32_t c) {
  if (c == 0x200C || c == 0x200D) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

bool is_numeric(uint32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

namespace {
std::string nfc_utf8proc(std::string_view s) {
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                    static_cast<utf8proc_ssize_t>(s.size()), &out,
                                    static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) throw Error(std::string("NFC normalisation failed: ") + utf8proc_errmsg(n));
  std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
}
}  // namespace

// ASCII characters are starters that never decompose and are never the second half of a
// canonical composition, so the text can be cut right before any ASCII character and normalised
// piecewise: only each non-ASCII run, with the ASCII character before it (which may be its base,
// as in "e" + U+0301), goes through utf8proc; the rest is copied.
std::string nfc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0, n = s.size();
  while (i < n) {
    size_t j = i;
    while (j < n && static_cast<unsigned char>(s[j]) < 0x80) ++j;
    if (j == n) { out.append(s.substr(i)); break; }
    size_t start = j > i ? j - 1 : j;
    size_t k = j;
    while (k < n && static_cast<unsigned char>(s[k]) >= 0x80) ++k;
    out.append(s.substr(i, start - i));
    out += nfc_utf8proc(s.substr(start, k - start));
    i = k;
  }
  return out;
}

namespace {
// Length of the valid UTF-8 sequence at p[i] (0 if none) and, when invalid, how many bytes form
// the maximal invalid prefix (at least 1).
size_t utf8_seq(const unsigned char* p, size_t n, size_t i, size_t* bad) {
  unsigned char c = p[i];
  if (c < 0x80) return 1;
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
  else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
  if (len == 0) { *bad = 1; return 0; }
  size_t k = 1;
  for (; k < len && i + k < n; ++k) {
    unsigned char cc = p[i + k];
    unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (cc < l || cc > h) break;
  }
  if (k == len) return len;
  *bad = k;
  return 0;
}
}  // namespace

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size(), i = 0;
  while (i < n) {
    size_t bad = 0, len = utf8_seq(p, n, i, &bad);
    if (len) { out.append(bytes.substr(i, len)); i += len; }
    else { out += "\xEF\xBF\xBD"; i += bad; }
  }
  return out;
}

bool is_valid_utf8(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size(), i = 0;
  while (i < n) {
    size_t bad = 0, len = utf8_seq(p, n, i, &bad);
    if (!len) return false;
    i += len;
  }
  return true;
}

const std::array<uint32_t, 256>& byte_to_codepoint() {
  static const std::array<uint32_t, 256> m = [] {
    std::array<uint32_t, 256> r{};
    std::array<bool, 256> direct{};
    for (int b = '!'; b <= '~'; ++b) direct[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
    uint32_t n = 0;
    for (int b = 0; b < 256; ++b) r[b] = direct[b] ? uint32_t(b) : 256 + n++;
    return r;
  }();
  return m;
}

const std::array<std::string, 256>& byte_level_chars() {
  static const std::array<std::string, 256> m = [] {
    std::array<std::string, 256> r;
    for (int b = 0; b < 256; ++b) append_utf8(r[b], byte_to_codepoint()[b]);
    return r;
  }();
  return m;
}

int byte_of_codepoint(uint32_t cp) {
  static const std::array<int16_t, 512> inv = [] {
    std::array<int16_t, 512> r;
    r.fill(-1);
    for (int b = 0; b < 256; ++b) r[byte_to_codepoint()[b]] = static_cast<int16_t>(b);
    return r;
  }();
  return cp < inv.size() ? inv[cp] : -1;
}

}  // namespace headscope::tok
