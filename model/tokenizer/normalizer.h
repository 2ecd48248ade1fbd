// The normalizer of a tokenizer.json: NFC, Prepend, Replace (string pattern), Sequence or none,
// applied to each piece of text between added tokens as the tokenizers library does.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace headscope::tok {

class Normalizer {
 public:
  // Reads the "normalizer" value (null: none). Throws Error naming an unsupported component.
  static Normalizer from_json(const nlohmann::json& j);

  bool empty() const { return steps_.empty(); }
  // `continued`: s continues a piece whose beginning was normalised earlier (streaming), so
  // Prepend, which only acts at a piece's start, does nothing.
  void normalize(std::string& s, bool continued = false) const;
  // True when no step can act across a '\n' (no pattern or replacement contains one): text
  // may then be cut right after a newline and normalised piecewise.
  bool newline_cut_safe() const;
  std::string describe() const;

 private:
  struct Step {
    enum Kind { NFC, Prepend, Replace } kind;
    std::string a, b;  // Prepend: a = prefix; Replace: a -> b
  };
  std::vector<Step> steps_;
  static void add(const nlohmann::json& j, std::vector<Step>& steps);
};

}  // namespace headscope::tok
