// Special tokens added around one encoded sequence: the tokenizer.json post_processor
// (TemplateProcessing's "single" template, ByteLevel — no ids —, Sequence of these) or, when it
// holds no template, tokenizer_config.json's add_bos_token / add_eos_token.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace headscope::tok {

struct PostProcessor {
  std::vector<int64_t> prefix, suffix;  // ids before / after the sequence
  std::vector<std::string> prefix_tokens, suffix_tokens;
  std::string source;  // "TemplateProcessing", "tokenizer_config.json" or "none"

  // `post`: the post_processor value; `config`: tokenizer_config.json (null when absent);
  // `id_of` resolves a token's content to its id (-1 when unknown); `known` says whether an id
  // exists. Throws Error for an unsupported component or a template naming an unknown token.
  static PostProcessor from_json(const nlohmann::json& post, const nlohmann::json& config,
                                 const std::function<int64_t(const std::string&)>& id_of,
                                 const std::function<bool(int64_t)>& known);
};

}  // namespace headscope::tok
