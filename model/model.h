// Decoder-only transformer forward pass in ATen for every supported architecture
// (model/arch/architecture.h): shared building blocks — norm (LayerNorm with bias / RMSNorm),
// MLP (GELU / SwiGLU), residual (parallel / sequential), fused q|k|v projection (split once at
// load), optional per-head q/k RMSNorm, one rotary module (model/rotary.h) — over weights in one
// layout (model/weights.h). *How* a layer attends is supplied by the caller as an AttentionFn,
// so one layer implementation serves the parallel forward (model/parallel_attention.h, masks +
// observers) and the token-by-token decoder over a real KV cache (eval/, compress/).
//
// GQA: q has num_heads query heads, k and v num_kv_heads KV heads; query head h reads KV head
// h / (num_heads / num_kv_heads), as transformers' repeat_kv.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/rotary.h"
#include "model/weights.h"

namespace headscope {

// q [H, T, Dh], k and v [KV, T, Dh] of one layer for T tokens, *not* rotated (after q/k norm).
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
  // Loads config.json + safetensors from `dir`, checks every tensor's shape and finiteness,
  // converts to `dtype` on `device`. Throws Error with a one-line reason.
  static Model load(const std::string& dir, at::Device device = at::kCPU,
                    at::ScalarType dtype = at::kFloat);

  const ModelConfig& config() const { return cfg_; }
  at::Device device() const { return device_; }
  at::ScalarType dtype() const { return dtype_; }
  const std::string& dir() const { return dir_; }
  const LayerWeights& layer(int64_t l) const { return w_.layers[static_cast<size_t>(l)]; }
  const Rotary& rotary() const { return rotary_; }
  int64_t num_parameters() const;

  // Building blocks. x: [T, hidden] in the model dtype on the model device.
  at::Tensor embed(const at::Tensor& ids) const;  // ids [T] int64 (any device)
  QKV qkv(int64_t layer, const at::Tensor& x_norm1) const;
  // Rotary embedding of x [heads, T, Dh] at `positions` [T] int64 (model/rotary.h).
  at::Tensor rotate(const at::Tensor& x, const at::Tensor& positions) const {
    return rotary_.rotate(x, positions);
  }
  at::Tensor attn_out(int64_t layer, const at::Tensor& ctx) const;  // ctx [H,T,Dh] -> [T,hidden]
  at::Tensor mlp(int64_t layer, const at::Tensor& x_norm2) const;
  // The architecture's norm (LayerNorm with bias or RMSNorm) of x [.., n] with weight w [n].
  at::Tensor norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const;
  // One transformer layer (norms, attention via `attend`, MLP, residual).
  at::Tensor layer_forward(int64_t layer, const at::Tensor& x, const AttentionFn& attend) const;
  // Embeddings, all layers, final norm: returns [T, hidden].
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
  ModelWeights w_;
  Rotary rotary_;
};

}  // namespace headscope
