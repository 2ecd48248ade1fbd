// The shared in-memory weight layout every architecture loads into (model/arch/*.cpp), and the
// checkpoint reader they use: shape checks, the safetensors __metadata__ aliases of tied
// weights, and a load-time finiteness check naming the offending tensor.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "model/safetensors.h"

namespace headscope {

struct LayerWeights {
  at::Tensor norm1_w, norm1_b, norm2_w, norm2_b;  // b undefined for RMSNorm
  // Fused projection, split into [q heads | k heads | v heads] once at load:
  // [(H + 2*KV) * Dh, hidden] (Pythia's interleaved [head][q|k|v] rows are reordered).
  at::Tensor qkv_w, qkv_b;        // qkv_b undefined without bias
  at::Tensor q_norm_w, k_norm_w;  // [Dh] per-head RMSNorm (Qwen3); undefined otherwise
  at::Tensor o_w, o_b;            // attention output projection [hidden, H*Dh]
  at::Tensor up_w, up_b;          // GELU: fc_in [I, hidden]; SwiGLU: [gate; up] [2I, hidden]
  at::Tensor down_w, down_b;      // [hidden, I]
};

struct ModelWeights {
  at::Tensor embed;                       // [V, hidden]
  at::Tensor final_norm_w, final_norm_b;  // b undefined for RMSNorm
  at::Tensor lm_head;                     // [V, hidden]; the same tensor as embed when tied
  std::vector<LayerWeights> layers;
};

class WeightLoader {
 public:
  WeightLoader(const SafeTensors& st, at::Device device, at::ScalarType dtype)
      : st_(st), device_(device), dtype_(dtype) {}
  // Stored under `name`, or under the name the safetensors __metadata__ aliases it to.
  bool has(const std::string& name) const;
  // Checks the shape and that every value is finite, copies into `dtype` on `device`.
  at::Tensor get(const std::string& name, const std::vector<int64_t>& shape) const;
  // Undefined tensor when absent.
  at::Tensor get_optional(const std::string& name, const std::vector<int64_t>& shape) const {
    return has(name) ? get(name, shape) : at::Tensor();
  }
  const SafeTensors& file() const { return st_; }

 private:
  std::string resolve(const std::string& name) const;
  const SafeTensors& st_;
  at::Device device_;
  at::ScalarType dtype_;
};

}  // namespace headscope
