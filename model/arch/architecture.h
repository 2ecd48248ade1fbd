// The table of supported architectures. An architecture is data plus small code: how its
// config.json maps onto ModelConfig, and where its tensors live in the checkpoint (the
// building blocks — norm, MLP, residual, projections, rotary — are shared by model/model.cpp).
// One file per architecture family: model/arch/gpt_neox.cpp, model/arch/llama.cpp (Llama,
// Mistral, Qwen2, Qwen3).
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "model/config.h"

namespace headscope {

class WeightLoader;
struct ModelWeights;

struct Architecture {
  std::string name;        // Hugging Face `architectures` entry, e.g. LlamaForCausalLM
  std::string model_type;  // config.json model_type, e.g. llama
  // Fills the architecture-specific fields of `c` (common sizes are already read).
  void (*parse)(const nlohmann::json& j, ModelConfig& c, const std::string& what);
  // Loads every weight into `w` in the shared layout (model/weights.h).
  void (*load)(const WeightLoader& L, const ModelConfig& c, ModelWeights& w);
  // Prefix of the per-layer tensors ("gpt_neox.layers." / "model.layers."), used to check
  // that the checkpoint holds no more layers than num_hidden_layers.
  std::string layer_prefix;
};

const std::vector<Architecture>& architectures();
// By `architectures` name or model_type; throws Error naming the supported ones.
const Architecture& find_architecture(const std::string& name, bool by_model_type);
std::string supported_architectures();  // "GPTNeoXForCausalLM, LlamaForCausalLM, ..."

// Defined in the architecture files.
Architecture gpt_neox_architecture();
std::vector<Architecture> llama_family_architectures();

}  // namespace headscope
