#include "model/model.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cctype>

#include "common/error.h"
#include "model/arch/architecture.h"
#include "model/safetensors.h"

namespace headscope {

namespace {

// x [T, in] times w [out, in]^T (+ b). A single row (token-by-token decoding) goes through a
// matrix-vector product, which reads the weight once, instead of a GEMM that packs the whole
// weight for one row (for the unembedding that packing dominated the decoding step).
at::Tensor linear_rows(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b = {}) {
  if (x.dim() == 2 && x.size(0) == 1) {
    at::Tensor y = b.defined() ? at::addmv(b, w, x[0]) : at::mv(w, x[0]);
    return y.unsqueeze(0);
  }
  return b.defined() ? at::linear(x, w, b) : at::linear(x, w);
}

// transformers' RMSNorm: normalised in float32, cast back, then scaled.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps) {
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor y = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return w * y.to(x.scalar_type());
}

// Highest layer index + 1 among tensors named <prefix><index>.*
int64_t checkpoint_layers(const SafeTensors& st, const std::string& prefix) {
  int64_t n = 0;
  for (const auto& [name, v] : st.tensors()) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    size_t i = prefix.size(), j = i;
    while (j < name.size() && std::isdigit(static_cast<unsigned char>(name[j]))) ++j;
    if (j > i && j < name.size() && name[j] == '.') n = std::max<int64_t>(n, std::stoll(name.substr(i, j - i)) + 1);
  }
  return n;
}

}  // namespace

Model Model::load(const std::string& dir, at::Device device, at::ScalarType dtype) {
  c10::InferenceMode guard;
  Model m;
  m.dir_ = dir;
  m.cfg_ = ModelConfig::load(dir);
  m.device_ = device;
  m.dtype_ = dtype;
  const ModelConfig& c = m.cfg_;
  const Architecture& arch = find_architecture(c.architecture, false);
  SafeTensors st = SafeTensors::open(dir);
  const int64_t stored = checkpoint_layers(st, arch.layer_prefix);
  require(stored <= c.num_layers, dir + "/config.json: num_hidden_layers is " +
                                      std::to_string(c.num_layers) + " but the checkpoint holds " +
                                      std::to_string(stored) + " layers");
  WeightLoader L(st, device, dtype);
  arch.load(L, c, m.w_);
  m.rotary_ = Rotary(c, device);
  return m;
}

int64_t Model::num_parameters() const {
  int64_t n = w_.embed.numel() + w_.final_norm_w.numel();
  if (w_.final_norm_b.defined()) n += w_.final_norm_b.numel();
  if (!w_.lm_head.is_same(w_.embed)) n += w_.lm_head.numel();
  for (const auto& w : w_.layers)
    for (const at::Tensor* t : {&w.norm1_w, &w.norm1_b, &w.norm2_w, &w.norm2_b, &w.qkv_w, &w.qkv_b,
                                &w.q_norm_w, &w.k_norm_w, &w.o_w, &w.o_b, &w.up_w, &w.up_b,
                                &w.down_w, &w.down_b})
      if (t->defined()) n += t->numel();
  return n;
}

at::Tensor Model::embed(const at::Tensor& ids) const {
  require(ids.dim() == 1, "token ids must be a 1-D tensor");
  return at::embedding(w_.embed, ids.to(device_));
}

QKV Model::qkv(int64_t l, const at::Tensor& x) const {
  const auto& w = layer(l);
  const int64_t T = x.size(0), H = cfg_.num_heads, KV = cfg_.num_kv_heads, D = cfg_.head_dim();
  at::Tensor y = linear_rows(x, w.qkv_w, w.qkv_b);  // [T, (H + 2 KV) * D]
  auto heads = [&](int64_t off, int64_t n) {
    return y.narrow(1, off * D, n * D).view({T, n, D}).transpose(0, 1).contiguous();
  };
  QKV r{heads(0, H), heads(H, KV), heads(H + KV, KV)};
  if (cfg_.qk_norm) {
    r.q = rms_norm(r.q, w.q_norm_w, cfg_.layer_norm_eps);
    r.k = rms_norm(r.k, w.k_norm_w, cfg_.layer_norm_eps);
  }
  return r;
}

at::Tensor Model::attn_out(int64_t l, const at::Tensor& ctx) const {
  const auto& w = layer(l);
  const int64_t T = ctx.size(1);
  at::Tensor merged = ctx.permute({1, 0, 2}).reshape({T, cfg_.num_heads * cfg_.head_dim()});
  return linear_rows(merged, w.o_w, w.o_b);
}

at::Tensor Model::mlp(int64_t l, const at::Tensor& x) const {
  const auto& w = layer(l);
  at::Tensor h = linear_rows(x, w.up_w, w.up_b);
  if (cfg_.mlp == MlpKind::Gelu) return linear_rows(at::gelu(h), w.down_w, w.down_b);
  const int64_t I = cfg_.intermediate_size;
  at::Tensor g = at::silu(h.narrow(-1, 0, I)).mul_(h.narrow(-1, I, I));
  return linear_rows(g, w.down_w, w.down_b);
}

at::Tensor Model::norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const {
  if (cfg_.norm == NormKind::RMSNorm) return rms_norm(x, w, cfg_.layer_norm_eps);
  return at::layer_norm(x, {x.size(-1)}, w, b, cfg_.layer_norm_eps);
}

at::Tensor Model::layer_forward(int64_t l, const at::Tensor& x, const AttentionFn& attend) const {
  const auto& w = layer(l);
  at::Tensor h1 = norm(x, w.norm1_w, w.norm1_b);
  QKV q = qkv(l, h1);
  at::Tensor a = attn_out(l, attend(l, q));
  if (cfg_.use_parallel_residual) return x + a + mlp(l, norm(x, w.norm2_w, w.norm2_b));
  at::Tensor y = x + a;
  return y + mlp(l, norm(y, w.norm2_w, w.norm2_b));
}

at::Tensor Model::forward_hidden(const at::Tensor& ids, const AttentionFn& attend) const {
  at::Tensor x = embed(ids);
  for (int64_t l = 0; l < cfg_.num_layers; ++l) x = layer_forward(l, x, attend);
  return final_norm(x);
}

at::Tensor Model::final_norm(const at::Tensor& x) const {
  return norm(x, w_.final_norm_w, w_.final_norm_b);
}

at::Tensor Model::logits(const at::Tensor& hidden) const {
  return linear_rows(hidden, w_.lm_head).to(at::kFloat);
}

TokenScores Model::score(const at::Tensor& hidden, const at::Tensor& targets, int64_t block) const {
  const int64_t N = hidden.size(0);
  require(targets.numel() == N, "score: targets and hidden states differ in length");
  at::Tensor tgt = targets.to(device_, at::kLong);
  std::vector<at::Tensor> nlls, argmaxes;
  for (int64_t s = 0; s < N; s += block) {
    const int64_t n = std::min(block, N - s);
    at::Tensor lg = logits(hidden.narrow(0, s, n));  // float32
    at::Tensor lsm = at::log_softmax(lg, -1);
    nlls.push_back(-lsm.gather(1, tgt.narrow(0, s, n).unsqueeze(1)).squeeze(1));
    argmaxes.push_back(lg.argmax(-1));
  }
  TokenScores r;
  r.nll = at::cat(nlls).to(at::kCPU, at::kDouble);
  r.argmax = at::cat(argmaxes).to(at::kCPU);
  return r;
}

}  // namespace headscope
