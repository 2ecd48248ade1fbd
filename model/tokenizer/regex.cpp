#include "model/tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>

#include "common/error.h"
#include "model/tokenizer/unicode_props.h"

namespace headscope::tok {

namespace {
// Oniguruma's White_Space set, with \p{Z} spelled out at Unicode 16.0 (see unicode_props.h).
const std::string& space_class() {
  static const std::string s = "\\t-\\r\\x{85}" + *property_class_body("Z", false);
  return s;
}

// Reads a property escape \pX, \p{X} or \p{^X} (and \P...) starting at p[i] == '\\'; returns its
// length (0 if malformed) and sets `name` and `negated` (\P and ^ each flip it).
size_t property_escape(const std::string& p, size_t i, std::string& name, bool& negated) {
  negated = p[i + 1] == 'P';
  if (i + 2 >= p.size()) return 0;
  if (p[i + 2] != '{') {
    name = p.substr(i + 2, 1);
    return 3;
  }
  size_t close = p.find('}', i + 3);
  if (close == std::string::npos) return 0;
  name = p.substr(i + 3, close - (i + 3));
  if (!name.empty() && name[0] == '^') {
    negated = !negated;
    name.erase(0, 1);
  }
  return close + 1 - i;
}

// Rewrites, outside and inside character classes, `\s` / `\S` into Oniguruma's White_Space set and
// the general-category escapes unicode_props.h knows (\p{L}, \P{N}, \pL, \p{^Lu}...) into
// explicit code-point ranges at Unicode 16.0; other escapes (\p{Han}, \p{L&}...) keep PCRE2's
// meaning. orig[k] is the offset in `p` of the translated pattern's byte k (for error messages).
std::string translate(const std::string& p, std::vector<size_t>& orig) {
  std::string out;
  bool in_class = false;
  auto emit = [&](const std::string& s, size_t at) {
    out += s;
    orig.insert(orig.end(), s.size(), at);
  };
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char d = p[i + 1];
      if (d == 'p' || d == 'P') {
        std::string name;
        bool negated = false;
        size_t len = property_escape(p, i, name, negated);
        // outside a class \P{X} is [^X]; inside one it needs X's complement spelled out
        const std::string* body = len ? property_class_body(name, negated && in_class) : nullptr;
        if (body) {
          emit(in_class ? *body : (negated ? "[^" : "[") + *body + "]", i);
          i += len - 1;
          continue;
        }
      }
      if (d == 's') {
        emit(in_class ? space_class() : "[" + space_class() + "]", i);
      } else if (d == 'S' && !in_class) {
        emit("[^" + space_class() + "]", i);
      } else if (d == 'S') {
        throw Error("\\S inside a character class is not supported (offset " + std::to_string(i) + ")");
      } else {
        emit(p.substr(i, 2), i);
      }
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      emit("[", i);
      // a ']' right after '[' or '[^' is a literal
      if (i + 1 < p.size() && p[i + 1] == '^') { emit("^", i + 1); ++i; }
      if (i + 1 < p.size() && p[i + 1] == ']') { emit("]", i + 1); ++i; }
      continue;
    }
    if (in_class && c == ']') in_class = false;
    emit(std::string(1, c), i);
  }
  orig.push_back(p.size());
  return out;
}
}  // namespace

Regex::Regex(const std::string& pattern, const std::string& what) : pattern_(pattern) {
  std::vector<size_t> orig;
  std::string translated;
  try {
    translated = translate(pattern, orig);
  } catch (const Error& e) {
    throw Error(what + ": regex " + pattern + ": " + e.what());
  }
  int err = 0;
  PCRE2_SIZE off = 0;
  pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                 PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
  if (!re) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    size_t at = off < orig.size() ? orig[off] : pattern.size();
    throw Error(what + ": invalid regex " + pattern + " at offset " + std::to_string(at) + ": " +
                reinterpret_cast<char*>(msg));
  }
  code_ = re;
  jit_ = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() {
  if (code_) pcre2_code_free(static_cast<pcre2_code*>(code_));
}

void Regex::find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const {
  auto* re = static_cast<pcre2_code*>(code_);
  // one match-data block per thread, reused: allocating it per call costs more than short matches
  thread_local std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> md_owner(
      pcre2_match_data_create(32, nullptr), pcre2_match_data_free);
  pcre2_match_data* md = md_owner.get();
  if (!md) throw Error("tokenizer: out of memory");
  auto subj = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t pos = 0;
  while (pos <= s.size()) {
    int rc = jit_ ? pcre2_jit_match(re, subj, s.size(), pos, 0, md, nullptr) : PCRE2_ERROR_JIT_BADOPTION;
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)  // no JIT, or it ran out of stack: interpret
      rc = pcre2_match(re, subj, s.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0 && rc != 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      throw Error("tokenizer: regex " + pattern_ + " failed: " + reinterpret_cast<char*>(msg));
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t b = ov[0], e = ov[1];
    out.emplace_back(b, e);
    if (e == b) {  // empty match: step over one character
      if (e >= s.size()) break;
      ++e;
      while (e < s.size() && (static_cast<unsigned char>(s[e]) & 0xC0) == 0x80) ++e;
    }
    pos = e;
  }
}

}  // namespace headscope::tok
