// GPT-NeoX hyper-parameters read from a Hugging Face config.json (Pythia field names, or the
// transformers-5 form with rope_parameters).
#pragma once
#include <cstdint>
#include <string>

namespace headscope {

struct ModelConfig {
  int64_t hidden_size = 0;
  int64_t num_heads = 0;
  int64_t num_layers = 0;
  int64_t intermediate_size = 0;
  double rotary_pct = 0.25;
  double rotary_base = 10000.0;
  double layer_norm_eps = 1e-5;
  int64_t max_position_embeddings = 2048;
  bool use_parallel_residual = true;
  int64_t vocab_size = 0;
  bool tie_word_embeddings = false;
  std::string hidden_act = "gelu";

  int64_t head_dim() const { return hidden_size / num_heads; }
  int64_t rotary_ndims() const { return static_cast<int64_t>(head_dim() * rotary_pct); }

  // Parses config.json text; throws Error with a one-line reason on malformed/missing fields.
  static ModelConfig parse(const std::string& json_text, const std::string& what = "config.json");
  static ModelConfig load(const std::string& model_dir);
};

}  // namespace headscope
