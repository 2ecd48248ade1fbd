#include "model/model.h"

#include <c10/core/InferenceMode.h>

#include "common/error.h"
#include "model/safetensors.h"

namespace headscope {

namespace {

at::ScalarType aten_dtype(StDtype d, const std::string& name) {
  switch (d) {
    case StDtype::F32: return at::kFloat;
    case StDtype::F16: return at::kHalf;
    case StDtype::BF16: return at::kBFloat16;
    case StDtype::F64: return at::kDouble;
    default: throw Error("tensor '" + name + "' has dtype " + st_dtype_name(d) +
                         ", expected F32, F16 or BF16");
  }
}

struct Loader {
  const SafeTensors& st;
  at::Device device;
  at::ScalarType dtype;

  at::Tensor get(const std::string& name, std::vector<int64_t> shape) const {
    const StTensorView& v = st.get(name);
    const at::ScalarType stored = aten_dtype(v.dtype, name);
    if (v.shape != shape) {
      auto fmt = [](const std::vector<int64_t>& s) {
        std::string r = "[";
        for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
        return r + "]";
      };
      throw Error("tensor '" + name + "' has shape " + fmt(v.shape) + ", expected " + fmt(shape));
    }
    at::Tensor view = at::from_blob(const_cast<void*>(v.data), v.shape,
                                    at::TensorOptions().dtype(stored));
    // Copy out of the mapping into owned memory in the compute dtype/device.
    return view.to(device, dtype, /*non_blocking=*/false, /*copy=*/true).contiguous();
  }
};

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

}  // namespace

Model Model::load(const std::string& dir, at::Device device, at::ScalarType dtype) {
  c10::InferenceMode guard;
  Model m;
  m.dir_ = dir;
  m.cfg_ = ModelConfig::load(dir);
  m.device_ = device;
  m.dtype_ = dtype;
  const ModelConfig& c = m.cfg_;
  SafeTensors st = SafeTensors::open(dir);
  Loader L{st, device, dtype};
  const int64_t d = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
  m.embed_in_ = L.get("gpt_neox.embed_in.weight", {V, d});
  m.final_ln_w_ = L.get("gpt_neox.final_layer_norm.weight", {d});
  m.final_ln_b_ = L.get("gpt_neox.final_layer_norm.bias", {d});
  if (st.has("embed_out.weight")) {
    m.embed_out_ = L.get("embed_out.weight", {V, d});
  } else if (st.has("lm_head.weight")) {
    m.embed_out_ = L.get("lm_head.weight", {V, d});
  } else if (c.tie_word_embeddings) {
    m.embed_out_ = m.embed_in_;
  } else {
    throw Error("missing tensor 'embed_out.weight' (or 'lm_head.weight')");
  }
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "gpt_neox.layers." + std::to_string(l) + ".";
    LayerWeights w;
    w.ln1_w = L.get(p + "input_layernorm.weight", {d});
    w.ln1_b = L.get(p + "input_layernorm.bias", {d});
    w.ln2_w = L.get(p + "post_attention_layernorm.weight", {d});
    w.ln2_b = L.get(p + "post_attention_layernorm.bias", {d});
    w.qkv_w = L.get(p + "attention.query_key_value.weight", {3 * d, d});
    w.qkv_b = L.get(p + "attention.query_key_value.bias", {3 * d});
    w.dense_w = L.get(p + "attention.dense.weight", {d, d});
    w.dense_b = L.get(p + "attention.dense.bias", {d});
    w.fc_in_w = L.get(p + "mlp.dense_h_to_4h.weight", {I, d});
    w.fc_in_b = L.get(p + "mlp.dense_h_to_4h.bias", {I});
    w.fc_out_w = L.get(p + "mlp.dense_4h_to_h.weight", {d, I});
    w.fc_out_b = L.get(p + "mlp.dense_4h_to_h.bias", {d});
    m.layers_.push_back(std::move(w));
  }
  // Buffers carried by real Pythia checkpoints (attention.bias, attention.masked_bias,
  // attention.rotary_emb.inv_freq) are ignored: they are recomputed here.
  const int64_t rd = c.rotary_ndims();
  m.inv_freq_ = 1.0 / at::pow(c.rotary_base,
                              at::arange(0, rd, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) /
                                  double(rd));
  m.inv_freq_ = m.inv_freq_.to(device);
  return m;
}

int64_t Model::num_parameters() const {
  int64_t n = embed_in_.numel() + final_ln_w_.numel() + final_ln_b_.numel();
  if (!embed_out_.is_same(embed_in_)) n += embed_out_.numel();
  for (const auto& w : layers_)
    for (const at::Tensor* t : {&w.ln1_w, &w.ln1_b, &w.ln2_w, &w.ln2_b, &w.qkv_w, &w.qkv_b,
                                &w.dense_w, &w.dense_b, &w.fc_in_w, &w.fc_in_b, &w.fc_out_w,
                                &w.fc_out_b})
      n += t->numel();
  return n;
}

at::Tensor Model::embed(const at::Tensor& ids) const {
  require(ids.dim() == 1, "token ids must be a 1-D tensor");
  return at::embedding(embed_in_, ids.to(device_));
}

QKV Model::qkv(int64_t l, const at::Tensor& x) const {
  const auto& w = layers_[static_cast<size_t>(l)];
  const int64_t T = x.size(0), H = cfg_.num_heads, D = cfg_.head_dim();
  // [T, 3d] -> [T, H, 3, D] -> [3, H, T, D]  (Pythia interleaves [head][q|k|v])
  at::Tensor y = linear_rows(x, w.qkv_w, w.qkv_b).view({T, H, 3, D}).permute({2, 1, 0, 3});
  return QKV{y[0].contiguous(), y[1].contiguous(), y[2].contiguous()};
}

at::Tensor Model::rotate(const at::Tensor& x, const at::Tensor& positions) const {
  const int64_t rd = cfg_.rotary_ndims();
  at::Tensor pos = positions.to(device_, at::kFloat);
  at::Tensor freqs = at::outer(pos, inv_freq_);        // [T, rd/2] float32
  at::Tensor emb = at::cat({freqs, freqs}, -1);        // [T, rd]
  at::Tensor cos = emb.cos().to(x.scalar_type());
  at::Tensor sin = emb.sin().to(x.scalar_type());
  at::Tensor xr = x.narrow(-1, 0, rd);
  at::Tensor xp = x.narrow(-1, rd, x.size(-1) - rd);
  at::Tensor x1 = xr.narrow(-1, 0, rd / 2), x2 = xr.narrow(-1, rd / 2, rd / 2);
  at::Tensor rot = at::cat({-x2, x1}, -1);
  at::Tensor out = xr * cos + rot * sin;
  return at::cat({out, xp}, -1);
}

at::Tensor Model::attn_out(int64_t l, const at::Tensor& ctx) const {
  const auto& w = layers_[static_cast<size_t>(l)];
  const int64_t T = ctx.size(1);
  at::Tensor merged = ctx.permute({1, 0, 2}).reshape({T, cfg_.hidden_size});
  return linear_rows(merged, w.dense_w, w.dense_b);
}

at::Tensor Model::mlp(int64_t l, const at::Tensor& x) const {
  const auto& w = layers_[static_cast<size_t>(l)];
  return linear_rows(at::gelu(linear_rows(x, w.fc_in_w, w.fc_in_b)), w.fc_out_w, w.fc_out_b);
}

at::Tensor Model::layer_forward(int64_t l, const at::Tensor& x, const AttentionFn& attend) const {
  const auto& w = layers_[static_cast<size_t>(l)];
  const int64_t d = cfg_.hidden_size;
  const double eps = cfg_.layer_norm_eps;
  at::Tensor h1 = at::layer_norm(x, {d}, w.ln1_w, w.ln1_b, eps);
  QKV q = qkv(l, h1);
  at::Tensor a = attn_out(l, attend(l, q));
  if (cfg_.use_parallel_residual) {
    at::Tensor h2 = at::layer_norm(x, {d}, w.ln2_w, w.ln2_b, eps);
    return x + a + mlp(l, h2);
  }
  at::Tensor y = x + a;
  at::Tensor h2 = at::layer_norm(y, {d}, w.ln2_w, w.ln2_b, eps);
  return y + mlp(l, h2);
}

at::Tensor Model::forward_hidden(const at::Tensor& ids, const AttentionFn& attend) const {
  at::Tensor x = embed(ids);
  for (int64_t l = 0; l < cfg_.num_layers; ++l) x = layer_forward(l, x, attend);
  return at::layer_norm(x, {cfg_.hidden_size}, final_ln_w_, final_ln_b_, cfg_.layer_norm_eps);
}

at::Tensor Model::final_norm(const at::Tensor& x) const {
  return at::layer_norm(x, {cfg_.hidden_size}, final_ln_w_, final_ln_b_, cfg_.layer_norm_eps);
}

at::Tensor Model::logits(const at::Tensor& hidden) const {
  return linear_rows(hidden, embed_out_).to(at::kFloat);
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
