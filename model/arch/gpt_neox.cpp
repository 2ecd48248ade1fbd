// GPT-NeoX (Pythia): LayerNorm with bias, GELU MLP, parallel residual by default, fused
// interleaved QKV with bias (reordered to [q | k | v] once here), partial rotary (rotary_pct),
// untied embed_out (or lm_head.weight, as transformers 5 writes it).
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "model/arch/architecture.h"
#include "model/arch/config_fields.h"
#include "model/weights.h"

namespace headscope {

namespace {

void parse(const nlohmann::json& j, ModelConfig& c, const std::string& what) {
  using namespace cfg;
  require(c.hidden_size % c.num_heads == 0,
          what + ": hidden_size is not a multiple of num_attention_heads");
  c.num_kv_heads = c.num_heads;
  c.head_size = c.hidden_size / c.num_heads;
  c.norm = NormKind::LayerNorm;
  c.mlp = MlpKind::Gelu;
  c.layer_norm_eps = field_or<double>(j, "layer_norm_eps", 1e-5, what);
  c.use_parallel_residual = field_or<bool>(j, "use_parallel_residual", true, what);
  c.qkv_bias = c.out_bias = c.mlp_bias = true;
  c.hidden_act = field_or<std::string>(j, "hidden_act", "gelu", what);
  require(c.hidden_act == "gelu", what + ": hidden_act '" + c.hidden_act +
                                      "' is not supported (only 'gelu')");
  parse_rope(j, c, what, "rotary_emb_base", 10000.0,
             present(j, "partial_rotary_factor") ? "partial_rotary_factor" : "rotary_pct", 0.25);
}

void load(const WeightLoader& L, const ModelConfig& c, ModelWeights& w) {
  const int64_t d = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
  const int64_t H = c.num_heads, D = c.head_dim();
  w.embed = L.get("gpt_neox.embed_in.weight", {V, d});
  w.final_norm_w = L.get("gpt_neox.final_layer_norm.weight", {d});
  w.final_norm_b = L.get("gpt_neox.final_layer_norm.bias", {d});
  if (L.has("embed_out.weight")) {
    w.lm_head = L.get("embed_out.weight", {V, d});
  } else if (L.has("lm_head.weight")) {
    w.lm_head = L.get("lm_head.weight", {V, d});
  } else if (c.tie_word_embeddings) {
    w.lm_head = w.embed;
  } else {
    throw Error("missing tensor 'embed_out.weight' (or 'lm_head.weight')");
  }
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "gpt_neox.layers." + std::to_string(l) + ".";
    LayerWeights lw;
    lw.norm1_w = L.get(p + "input_layernorm.weight", {d});
    lw.norm1_b = L.get(p + "input_layernorm.bias", {d});
    lw.norm2_w = L.get(p + "post_attention_layernorm.weight", {d});
    lw.norm2_b = L.get(p + "post_attention_layernorm.bias", {d});
    // Rows ordered [head][q|k|v][Dh] -> [q|k|v][head][Dh], once, so the forward splits by narrow.
    lw.qkv_w = L.get(p + "attention.query_key_value.weight", {3 * d, d})
                   .view({H, 3, D, d}).permute({1, 0, 2, 3}).reshape({3 * d, d}).contiguous();
    lw.qkv_b = L.get(p + "attention.query_key_value.bias", {3 * d})
                   .view({H, 3, D}).permute({1, 0, 2}).reshape({3 * d}).contiguous();
    lw.o_w = L.get(p + "attention.dense.weight", {d, d});
    lw.o_b = L.get(p + "attention.dense.bias", {d});
    lw.up_w = L.get(p + "mlp.dense_h_to_4h.weight", {I, d});
    lw.up_b = L.get(p + "mlp.dense_h_to_4h.bias", {I});
    lw.down_w = L.get(p + "mlp.dense_4h_to_h.weight", {d, I});
    lw.down_b = L.get(p + "mlp.dense_4h_to_h.bias", {d});
    w.layers.push_back(std::move(lw));
  }
  // Buffers carried by real Pythia checkpoints (attention.bias, attention.masked_bias,
  // attention.rotary_emb.inv_freq) are ignored: they are recomputed.
}

}  // namespace

Architecture gpt_neox_architecture() {
  return Architecture{"GPTNeoXForCausalLM", "gpt_neox", &parse, &load, "gpt_neox.layers."};
}

}  // namespace headscope
