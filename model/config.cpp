#include "model/config.h"

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/error.h"
#include "model/arch/architecture.h"
#include "model/arch/config_fields.h"

namespace headscope {
using nlohmann::json;
using cfg::field;
using cfg::field_or;

ModelConfig ModelConfig::parse(const std::string& text, const std::string& what) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(what + " is not valid JSON (byte " + std::to_string(e.byte) + ")");
  } catch (const json::exception&) {  // e.g. a number too large for any JSON number type
    throw Error(what + " is not valid JSON (a number out of range)");
  }
  require(j.is_object(), what + " is not a JSON object");
  // Which architecture: the `architectures` entry, else model_type, else GPT-NeoX (Pythia
  // configs always name one; bare test configs did not).
  const Architecture* arch = &find_architecture("gpt_neox", true);
  if (cfg::present(j, "architectures")) {
    require(j["architectures"].is_array() && !j["architectures"].empty() &&
                j["architectures"][0].is_string(),
            what + ": 'architectures' must be a non-empty list of names");
    arch = &find_architecture(j["architectures"][0].get<std::string>(), false);
  } else if (cfg::present(j, "model_type")) {
    require(j["model_type"].is_string(), what + ": field 'model_type' has the wrong type");
    arch = &find_architecture(j["model_type"].get<std::string>(), true);
  }
  ModelConfig c;
  c.architecture = arch->name;
  c.model_type = arch->model_type;
  c.hidden_size = field<int64_t>(j, "hidden_size", what);
  c.num_heads = field<int64_t>(j, "num_attention_heads", what);
  c.num_layers = field<int64_t>(j, "num_hidden_layers", what);
  c.intermediate_size = field<int64_t>(j, "intermediate_size", what);
  c.vocab_size = field<int64_t>(j, "vocab_size", what);
  c.max_position_embeddings = field_or<int64_t>(j, "max_position_embeddings", 2048, what);
  c.tie_word_embeddings = field_or<bool>(j, "tie_word_embeddings", false, what);
  require(c.hidden_size > 0 && c.num_heads > 0 && c.num_layers > 0 && c.intermediate_size > 0 &&
              c.vocab_size > 0,
          what + ": sizes must be positive");
  require(c.max_position_embeddings > 0, what + ": max_position_embeddings must be > 0");
  arch->parse(j, c, what);
  require(c.num_kv_heads > 0, what + ": num_key_value_heads must be > 0");
  require(c.num_heads % c.num_kv_heads == 0,
          what + ": num_attention_heads (" + std::to_string(c.num_heads) +
              ") is not divisible by num_key_value_heads (" + std::to_string(c.num_kv_heads) + ")");
  require(c.head_size > 0, what + ": head_dim must be > 0");
  require(c.layer_norm_eps > 0, what + ": the normalisation epsilon must be > 0");
  require(c.rotary_ndims() % 2 == 0, what + ": rotary dimensions must be even");
  require(c.sliding_window == -1 || c.sliding_window > 0, what + ": sliding_window must be > 0");
  return c;
}

ModelConfig ModelConfig::load(const std::string& dir) {
  const std::string path = dir + "/config.json";
  return parse(read_file(path), path);
}

}  // namespace headscope
