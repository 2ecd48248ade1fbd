// The pre-tokenizer of a tokenizer.json: ByteLevel (add_prefix_space, use_regex), Split with a
// Regex or String pattern (all five behaviours, invert), Metaspace (replacement, prepend_scheme,
// split), Digits, Sequence, or none. It cuts one normalised piece into the words that the model
// encodes separately, exactly as the tokenizers library does.
#pragma once
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace headscope::tok {

class Regex;

// One word in the making. at_origin: it starts at offset 0 of the original text (Metaspace's
// prepend_scheme "first"); continued: it continues a piece begun in an earlier stretch of a
// streamed text, so the prefixes that belong to a piece's start are not added.
struct PreToken {
  std::string text;
  bool at_origin = false;
  bool continued = false;
};

class PreTokenizer {
 public:
  static PreTokenizer from_json(const nlohmann::json& j);  // throws Error on unsupported parts
  PreTokenizer();
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // Splits `piece` and appends its words (in the model's alphabet) to `out`.
  void split(PreToken piece, std::vector<std::string>& out) const;
  bool byte_level() const { return byte_level_; }  // words are in the byte-level alphabet
  std::string describe() const;
  struct Step;  // one component (defined in the .cpp)

 private:
  std::vector<std::unique_ptr<Step>> steps_;
  bool byte_level_ = false;
  static void add(const nlohmann::json& j, PreTokenizer& p);
};

}  // namespace headscope::tok
