// The Llama family — LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM —
// as transformers implements them: RMSNorm, SwiGLU MLP, sequential residual, separate q/k/v
// projections (GQA: num_key_value_heads), optional biases (Llama attention_bias / mlp_bias,
// Qwen2's q/k/v bias), explicit head_dim, Qwen3's per-head q/k RMSNorm before rotary, full
// rotary with rope_theta and rope_scaling, Mistral's native sliding window (and Qwen2/3's when
// use_sliding_window), tied embeddings including checkpoints that store only lm_head.weight.
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "model/arch/architecture.h"
#include "model/arch/config_fields.h"
#include "model/weights.h"

namespace headscope {

namespace {

enum class Variant { Llama, Mistral, Qwen2, Qwen3 };

template <Variant V>
void parse(const nlohmann::json& j, ModelConfig& c, const std::string& what) {
  using namespace cfg;
  c.num_kv_heads = field_or<int64_t>(j, "num_key_value_heads", c.num_heads, what);
  require(c.num_kv_heads > 0, what + ": num_key_value_heads must be > 0");
  if (present(j, "head_dim")) {
    c.head_size = field<int64_t>(j, "head_dim", what);
  } else {
    require(c.hidden_size % c.num_heads == 0,
            what + ": hidden_size is not a multiple of num_attention_heads (and no head_dim)");
    c.head_size = c.hidden_size / c.num_heads;
  }
  c.norm = NormKind::RMSNorm;
  c.mlp = MlpKind::SwiGLU;
  c.use_parallel_residual = false;
  c.layer_norm_eps = field_or<double>(j, "rms_norm_eps", 1e-6, what);
  const bool attention_bias = field_or<bool>(j, "attention_bias", false, what);
  c.qkv_bias = V == Variant::Qwen2 ? true : V == Variant::Mistral ? false : attention_bias;
  c.out_bias = (V == Variant::Llama || V == Variant::Qwen3) ? attention_bias : false;
  c.mlp_bias = V == Variant::Llama ? field_or<bool>(j, "mlp_bias", false, what) : false;
  c.qk_norm = V == Variant::Qwen3;
  c.hidden_act = field_or<std::string>(j, "hidden_act", "silu", what);
  require(c.hidden_act == "silu", what + ": hidden_act '" + c.hidden_act +
                                      "' is not supported (only 'silu')");
  parse_rope(j, c, what, "rope_theta", 10000.0, "partial_rotary_factor", 1.0);
  if (V == Variant::Mistral) {
    c.sliding_window = field_or<int64_t>(j, "sliding_window", -1, what);
    c.max_window_layers = 0;
  } else if (V == Variant::Qwen2 || V == Variant::Qwen3) {
    if (field_or<bool>(j, "use_sliding_window", false, what)) {
      c.sliding_window = field_or<int64_t>(j, "sliding_window", -1, what);
      c.max_window_layers = field_or<int64_t>(j, "max_window_layers", 0, what);
    }
  }
  if (present(j, "layer_types")) {
    // transformers 5 spells the per-layer choice out; only the two patterns above are supported.
    require(j["layer_types"].is_array() && int64_t(j["layer_types"].size()) == c.num_layers,
            what + ": layer_types must list one type per layer");
    for (int64_t l = 0; l < c.num_layers; ++l) {
      const auto& t = j["layer_types"][size_t(l)];
      require(t.is_string(), what + ": layer_types entries must be strings");
      const bool sliding = t == "sliding_attention";
      require(sliding || t == "full_attention",
              what + ": layer type '" + t.get<std::string>() + "' is not supported");
      require(sliding == (c.native_window(l) > 0),
              what + ": layer_types disagree with sliding_window / max_window_layers at layer " +
                  std::to_string(l));
    }
  }
}

void load(const WeightLoader& L, const ModelConfig& c, ModelWeights& w) {
  const int64_t d = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
  const int64_t H = c.num_heads, KV = c.num_kv_heads, D = c.head_dim();
  // Tied checkpoints may store the matrix once under either name (transformers writes only
  // lm_head.weight and aliases model.embed_tokens.weight to it in __metadata__).
  const bool has_embed = L.has("model.embed_tokens.weight");
  w.embed = L.get(has_embed || !c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight",
                  {V, d});
  if (c.tie_word_embeddings) {
    w.lm_head = w.embed;
  } else {
    w.lm_head = L.get("lm_head.weight", {V, d});
  }
  w.final_norm_w = L.get("model.norm.weight", {d});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LayerWeights lw;
    lw.norm1_w = L.get(p + "input_layernorm.weight", {d});
    lw.norm2_w = L.get(p + "post_attention_layernorm.weight", {d});
    const std::string a = p + "self_attn.";
    lw.qkv_w = at::cat({L.get(a + "q_proj.weight", {H * D, d}), L.get(a + "k_proj.weight", {KV * D, d}),
                        L.get(a + "v_proj.weight", {KV * D, d})})
                   .contiguous();
    if (c.qkv_bias)
      lw.qkv_b = at::cat({L.get(a + "q_proj.bias", {H * D}), L.get(a + "k_proj.bias", {KV * D}),
                          L.get(a + "v_proj.bias", {KV * D})});
    if (c.qk_norm) {
      lw.q_norm_w = L.get(a + "q_norm.weight", {D});
      lw.k_norm_w = L.get(a + "k_norm.weight", {D});
    }
    lw.o_w = L.get(a + "o_proj.weight", {d, H * D});
    if (c.out_bias) lw.o_b = L.get(a + "o_proj.bias", {d});
    const std::string m = p + "mlp.";
    lw.up_w = at::cat({L.get(m + "gate_proj.weight", {I, d}), L.get(m + "up_proj.weight", {I, d})}).contiguous();
    lw.down_w = L.get(m + "down_proj.weight", {d, I});
    if (c.mlp_bias) {
      lw.up_b = at::cat({L.get(m + "gate_proj.bias", {I}), L.get(m + "up_proj.bias", {I})});
      lw.down_b = L.get(m + "down_proj.bias", {d});
    }
    w.layers.push_back(std::move(lw));
  }
}

}  // namespace

std::vector<Architecture> llama_family_architectures() {
  return {
      Architecture{"LlamaForCausalLM", "llama", &parse<Variant::Llama>, &load, "model.layers."},
      Architecture{"MistralForCausalLM", "mistral", &parse<Variant::Mistral>, &load, "model.layers."},
      Architecture{"Qwen2ForCausalLM", "qwen2", &parse<Variant::Qwen2>, &load, "model.layers."},
      Architecture{"Qwen3ForCausalLM", "qwen3", &parse<Variant::Qwen3>, &load, "model.layers."},
  };
}

}  // namespace headscope
