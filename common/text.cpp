#include "common/text.h"

#include <openssl/evp.h>

#include <cstdio>

#include "common/atomic_file.h"
#include "common/error.h"

namespace headscope {

Newlines parse_newlines(const std::string& s) {
  if (s == "keep") return Newlines::Keep;
  if (s == "lf") return Newlines::LF;
  throw Error("--newlines must be 'keep' or 'lf', got '" + s + "'");
}

const char* to_string(Newlines n) { return n == Newlines::Keep ? "keep" : "lf"; }

void validate_utf8(const std::string& s, const std::string& what) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else throw Error(what + " is not valid UTF-8 (bad byte at offset " + std::to_string(i) + ")");
    if (i + len > n) throw Error(what + " is not valid UTF-8 (truncated sequence at offset " + std::to_string(i) + ")");
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80)
        throw Error(what + " is not valid UTF-8 (bad continuation at offset " + std::to_string(i + k) + ")");
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      throw Error(what + " is not valid UTF-8 (invalid code point at offset " + std::to_string(i) + ")");
    i += len;
  }
}

std::string load_text(const std::string& path, Newlines nl) {
  std::string raw = read_file(path);
  validate_utf8(raw, "text " + path);
  if (nl == Newlines::LF) {
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\r') {
        out.push_back('\n');
        if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
      } else {
        out.push_back(raw[i]);
      }
    }
    raw.swap(out);
  }
  require(!raw.empty(), "text " + path + " is empty");
  return raw;
}

std::string sha256_hex(const std::string& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  std::string hex;
  char buf[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", md[i]);
    hex += buf;
  }
  return hex;
}

}  // namespace headscope
