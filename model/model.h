// GPT-NeoX (Pythia) forward pass in ATen. The model owns weights and exposes the layer building
// blocks; *how* a layer attends is supplied by the caller as an AttentionFn, so one layer
// implementation serves the parallel forward (model/parallel_attention.h, masks + observers)
// and the token-by-token decoder over a real KV cache (eval/, compress/).
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "model/config.h"

namespace headscope {

struct LayerWeights {
  at::Tensor ln1_w, ln1_b, ln2_w, ln2_b;
  at::Tensor qkv_w, qkv_b;      // [3*hidden, hidden]: rows ordered [head][q|k|v][head_dim]
  at::Tensor dense_w, dense_b;  // attention output projection
  at::Tensor fc_in_w, fc_in_b, fc_out_w, fc_out_b;
};

// q, k, v of one layer for T tokens, each [H, T, Dh], *not* rotated.
struct QKV {
  at::Tensor q, k, v;
};

// Given a layer index and its un-rotated q/k/v, returns the attention context [H, T, Dh].
using AttentionFn = std::function<at::Tensor(int64_t layer, QKV& qkv)>;

// Per-position scores of next-token prediction.
struct TokenScores {
  at::Tensor nll;     // [N] float64 on CPU: -log p(target)
  at::Tensor argmax;  // [N] int64 on CPU
};

class Model {
 public:
  // Loads config.json + safetensors from `dir`, checks every tensor's shape, converts to
  // `dtype` on `device`. Throws Error with a one-line reason.
  static Model load(const std::string& dir, at::Device device = at::kCPU,
                        at::ScalarType dtype = at::kFloat);

  const ModelConfig& config() const { return cfg_; }
  at::Device device() const { return device_; }
  at::ScalarType dtype() const { return dtype_; }
  const std::string& dir() const { return dir_; }
  const LayerWeights& layer(int64_t l) const { return layers_[static_cast<size_t>(l)]; }
  int64_t num_parameters() const;

  // Building blocks. x: [T, hidden] in the model dtype on the model device.
  at::Tensor embed(const at::Tensor& ids) const;  // ids [T] int64 (any device)
  QKV qkv(int64_t layer, const at::Tensor& x_ln1) const;
  // Partial rotary embedding (rotate-half) of x [H, T, Dh] at `positions` [T] int64.
  at::Tensor rotate(const at::Tensor& x, const at::Tensor& positions) const;
  at::Tensor attn_out(int64_t layer, const at::Tensor& ctx) const;  // ctx [H,T,Dh] -> [T,hidden]
  at::Tensor mlp(int64_t layer, const at::Tensor& x_ln2) const;
  // One transformer layer (LayerNorms, attention via `attend`, MLP, residual).
  at::Tensor layer_forward(int64_t layer, const at::Tensor& x, const AttentionFn& attend) const;
  // Embeddings, all layers, final LayerNorm: returns [T, hidden].
  at::Tensor forward_hidden(const at::Tensor& ids, const AttentionFn& attend) const;
  // The final normalisation alone (what forward_hidden applies after the last layer), so a
  // caller can run the layers itself (e.g. from a cached layer input).
  at::Tensor final_norm(const at::Tensor& x) const;
  // Unembedding of final hidden states: [T, V] float32.
  at::Tensor logits(const at::Tensor& hidden) const;
  // NLL of targets[t] given hidden[t] and argmax, computed in row blocks (never [T, V] at once).
  TokenScores score(const at::Tensor& hidden, const at::Tensor& targets, int64_t block = 256) const;

 private:
  ModelConfig cfg_;
  std::string dir_;
  at::Device device_ = at::kCPU;
  at::ScalarType dtype_ = at::kFloat;
  at::Tensor embed_in_, final_ln_w_, final_ln_b_, embed_out_;
  at::Tensor inv_freq_;  // [rotary_ndims/2] float32 on device
  std::vector<LayerWeights> layers_;
};

}  // namespace headscope
