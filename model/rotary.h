// The rotary position embedding (rotate-half, as transformers' GPT-NeoX / Llama / Mistral /
// Qwen2 / Qwen3): ONE implementation used by the model's parallel forward, the token-by-token
// decoder and every engine. Covers partial rotary (Pythia's rotary_pct: only the first
// rotary_ndims of each head are rotated), rope_theta, and rope_scaling types default, linear,
// llama3 and yarn (inverse frequencies and the yarn attention factor computed as transformers'
// modeling_rope_utils does, in float32).
#pragma once
#include <ATen/ATen.h>

#include <utility>

#include "model/config.h"

namespace headscope {

class Rotary {
 public:
  Rotary() = default;
  // Throws Error for a rope type other than default, linear, llama3 and yarn.
  Rotary(const ModelConfig& c, at::Device device);

  int64_t ndims() const { return rd_; }           // rotated dimensions per head (even)
  const at::Tensor& inv_freq() const { return inv_freq_; }  // [rd/2] float32 on the device
  double attention_scaling() const { return scaling_; }     // multiplies cos and sin (yarn)

  // cos and sin tables [T, rd] in dtype `dt` for positions [T] (int64, any device).
  std::pair<at::Tensor, at::Tensor> tables(const at::Tensor& positions, at::ScalarType dt) const;
  // x [..., T, D] rotated with cos/sin broadcastable to [..., T, rd].
  at::Tensor apply(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) const;
  // tables + apply: x [..., T, D] at positions [T].
  at::Tensor rotate(const at::Tensor& x, const at::Tensor& positions) const;

  // The inverse frequencies of `c` (float32, CPU) and the attention factor, as transformers.
  static std::pair<at::Tensor, double> inverse_frequencies(const ModelConfig& c);

 private:
  int64_t rd_ = 0, D_ = 0;
  double scaling_ = 1.0;
  at::Device device_ = at::kCPU;
  at::Tensor inv_freq_;
};

}  // namespace headscope
