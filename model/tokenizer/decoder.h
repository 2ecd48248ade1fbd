// The decoder of a tokenizer.json (ids -> text): ByteLevel, Metaspace, Replace (string pattern),
// ByteFallback, Fuse, Strip, Sequence, or none (tokens joined with spaces), each step working on
// the list of token strings as the tokenizers library's decode_chain does.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace headscope::tok {

class Decoder {
 public:
  static Decoder from_json(const nlohmann::json& j);  // throws Error on unsupported parts
  std::string decode(std::vector<std::string> tokens) const;
  std::string describe() const;

 private:
  struct Step {
    enum Kind { ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip } kind;
    std::string a, b;        // Metaspace: a = replacement; Replace: a -> b; Strip: a = content
    size_t start = 0, stop = 0;  // Strip
    bool prepend = true;     // Metaspace: prepend_scheme != never
  };
  std::vector<Step> steps_;
  bool none_ = true;
  static void add(const nlohmann::json& j, Decoder& d);
};

}  // namespace headscope::tok
