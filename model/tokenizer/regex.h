// A pre-tokenisation regex from tokenizer.json, compiled with PCRE2 (JIT when available).
// tokenizers runs these patterns with Oniguruma, whose Unicode `\s` is the White_Space property
// (U+0009-U+000D, U+0085 and the Z categories); PCRE2's `\s` under UCP differs between versions
// on U+0085, so `\s` and `\S` are rewritten into that explicit class before compiling. Likewise
// the general-category escapes (\p{L}, \p{N}, \P{Lu}...) become explicit code-point ranges at the
// Unicode version tokenizers uses (16.0; PCRE2 10.42's tables are 14.0): see unicode_props.h.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace headscope::tok {

class Regex {
 public:
  // Throws Error "<what>: invalid regex at offset N (of the pattern as written): <PCRE2 message>".
  Regex(const std::string& pattern, const std::string& what);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Non-overlapping leftmost matches, left to right, as (begin, end) byte offsets; an empty match
  // advances by one character, as Oniguruma's search loop does.
  void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code*
  bool jit_ = false;
};

}  // namespace headscope::tok
