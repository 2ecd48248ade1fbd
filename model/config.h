// Decoder hyper-parameters read from a Hugging Face config.json, for every supported
// architecture (model/arch/architecture.h): GPT-NeoX (Pythia field names), Llama, Mistral,
// Qwen2, Qwen3, in transformers-4 form (top-level rope_theta / rope_scaling, Pythia's
// rotary_pct / rotary_emb_base) or transformers-5 form (rope_parameters).
#pragma once
#include <cstdint>
#include <string>

namespace headscope {

// Rotary position embedding parameters (transformers' rope_scaling / rope_parameters).
struct RopeConfig {
  std::string type = "default";  // default | linear | llama3 | yarn
  double theta = 10000.0;        // rope_theta / rotary_emb_base
  double partial = 1.0;          // share of head_dim that is rotated (Pythia's rotary_pct)
  double factor = 1.0;           // linear, llama3, yarn
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  int64_t original_max_position_embeddings = 0;          // llama3, yarn (0: max_position_embeddings)
  double beta_fast = 32.0, beta_slow = 1.0;              // yarn
  double attention_factor = 0.0;                         // yarn (0: derived from factor/mscale)
  double mscale = 0.0, mscale_all_dim = 0.0;             // yarn (0: unset)
  bool truncate = true;                                  // yarn
};

enum class NormKind { LayerNorm, RMSNorm };  // LayerNorm with bias (NeoX) / RMSNorm (Llama)
enum class MlpKind { Gelu, SwiGLU };         // fc_in-GELU-fc_out / down(silu(gate) * up)

struct ModelConfig {
  std::string architecture = "GPTNeoXForCausalLM";  // the supported name it maps to
  std::string model_type = "gpt_neox";
  int64_t hidden_size = 0;
  int64_t num_heads = 0;     // query heads
  int64_t num_kv_heads = 0;  // key/value heads (GQA: num_heads is a multiple of it)
  int64_t num_layers = 0;
  int64_t intermediate_size = 0;
  int64_t head_size = 0;     // explicit head_dim (Qwen3) or hidden_size / num_heads
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 2048;
  double rotary_pct = 0.25;  // = rope.partial (kept for the NeoX callers)
  double rotary_base = 10000.0;  // = rope.theta
  RopeConfig rope;
  double layer_norm_eps = 1e-5;  // layer_norm_eps (NeoX) or rms_norm_eps
  NormKind norm = NormKind::LayerNorm;
  MlpKind mlp = MlpKind::Gelu;
  bool use_parallel_residual = true;  // NeoX; Llama family: sequential
  bool qkv_bias = true;               // NeoX fused bias, Qwen2 q/k/v bias, attention_bias
  bool out_bias = true;               // attention output projection bias
  bool mlp_bias = true;
  bool qk_norm = false;               // Qwen3 per-head RMSNorm of q and k before rotary
  int64_t sliding_window = -1;        // native window (query i sees j iff i - j < W); -1: none
  int64_t max_window_layers = 0;      // Qwen2/3: layers >= this use the window (Mistral: 0 = all)
  bool tie_word_embeddings = false;
  std::string hidden_act = "gelu";

  int64_t head_dim() const { return head_size; }
  int64_t kv_group() const { return num_heads / num_kv_heads; }  // query heads per KV head
  int64_t kv_head_of(int64_t q_head) const { return q_head / kv_group(); }
  int64_t rotary_ndims() const { return static_cast<int64_t>(double(head_dim()) * rope.partial); }
  // Native sliding window of layer l (-1: none), applied on top of every policy.
  int64_t native_window(int64_t l) const {
    return sliding_window > 0 && l >= max_window_layers ? sliding_window : -1;
  }
  bool gqa() const { return num_kv_heads != num_heads; }

  // Parses config.json text; throws Error with a one-line reason on malformed/missing fields,
  // unsupported architectures and values that cannot be right.
  static ModelConfig parse(const std::string& json_text, const std::string& what = "config.json");
  static ModelConfig load(const std::string& model_dir);
};

}  // namespace headscope
