#include "model/config.h"

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/error.h"

namespace headscope {
using nlohmann::json;

namespace {
template <class T>
T field(const json& j, const char* name, const std::string& what) {
  auto it = j.find(name);
  require(it != j.end(), what + ": missing field '" + name + "'");
  try {
    return it->get<T>();
  } catch (const std::exception&) {
    throw Error(what + ": field '" + std::string(name) + "' has the wrong type");
  }
}
template <class T>
T field_or(const json& j, const char* name, T dflt, const std::string& what) {
  return j.contains(name) && !j[name].is_null() ? field<T>(j, name, what) : dflt;
}
}  // namespace

ModelConfig ModelConfig::parse(const std::string& text, const std::string& what) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(what + " is not valid JSON (byte " + std::to_string(e.byte) + ")");
  }
  require(j.is_object(), what + " is not a JSON object");
  if (j.contains("model_type") && j["model_type"].is_string())
    require(j["model_type"] == "gpt_neox",
            what + ": model_type '" + j["model_type"].get<std::string>() + "' is not gpt_neox");
  ModelConfig c;
  c.hidden_size = field<int64_t>(j, "hidden_size", what);
  c.num_heads = field<int64_t>(j, "num_attention_heads", what);
  c.num_layers = field<int64_t>(j, "num_hidden_layers", what);
  c.intermediate_size = field<int64_t>(j, "intermediate_size", what);
  c.vocab_size = field<int64_t>(j, "vocab_size", what);
  c.layer_norm_eps = field_or<double>(j, "layer_norm_eps", 1e-5, what);
  c.max_position_embeddings = field_or<int64_t>(j, "max_position_embeddings", 2048, what);
  c.use_parallel_residual = field_or<bool>(j, "use_parallel_residual", true, what);
  c.tie_word_embeddings = field_or<bool>(j, "tie_word_embeddings", false, what);
  c.hidden_act = field_or<std::string>(j, "hidden_act", "gelu", what);
  // Rotary: Pythia form (rotary_pct, rotary_emb_base) or transformers-5 form (rope_parameters).
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
    const json& rp = j["rope_parameters"];
    c.rotary_pct = field_or<double>(rp, "partial_rotary_factor",
                                    field_or<double>(j, "rotary_pct", 0.25, what), what);
    c.rotary_base = field_or<double>(rp, "rope_theta",
                                     field_or<double>(j, "rotary_emb_base", 10000.0, what), what);
  } else {
    c.rotary_pct = field_or<double>(j, "rotary_pct", 0.25, what);
    c.rotary_base = field_or<double>(j, "rotary_emb_base", 10000.0, what);
  }
  require(c.hidden_size > 0 && c.num_heads > 0 && c.num_layers > 0 && c.intermediate_size > 0 &&
              c.vocab_size > 0,
          what + ": sizes must be positive");
  require(c.hidden_size % c.num_heads == 0,
          what + ": hidden_size is not a multiple of num_attention_heads");
  require(c.rotary_pct > 0 && c.rotary_pct <= 1, what + ": rotary_pct must be in (0, 1]");
  require(c.rotary_ndims() % 2 == 0, what + ": rotary dimensions must be even");
  require(c.hidden_act == "gelu", what + ": hidden_act '" + c.hidden_act +
                                      "' is not supported (only 'gelu')");
  return c;
}

ModelConfig ModelConfig::load(const std::string& dir) {
  const std::string path = dir + "/config.json";
  return parse(read_file(path), path);
}

}  // namespace headscope
