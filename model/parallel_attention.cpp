#include "model/parallel_attention.h"

#include <limits>

namespace headscope {

at::Tensor masked_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& mask, at::Tensor* probs_out) {
  const double scale = 1.0 / std::sqrt(double(q.size(-1)));
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)).to(at::kFloat).mul_(scale);
  scores.masked_fill_(mask.logical_not(), -std::numeric_limits<float>::infinity());
  at::Tensor probs = at::softmax(scores, -1);
  at::Tensor out = at::matmul(probs.to(v.scalar_type()), v);
  if (probs_out) *probs_out = probs;
  return out;
}

namespace {

// Per-head (sink, window) encoded so one rule covers every case:
// visible = k <= q && (k < S || q - k < W); full heads get W = "infinity", dead heads S=0, W=1.
struct LayerRule {
  std::vector<int64_t> S, W;
  bool full = true;
};

LayerRule layer_rule(const Visibility* vis, int64_t layer, int64_t H) {
  LayerRule r;
  r.S.assign(static_cast<size_t>(H), 0);
  r.W.assign(static_cast<size_t>(H), std::numeric_limits<int32_t>::max());
  if (!vis) return r;
  for (int64_t h = 0; h < H; ++h) {
    const HeadWindow& hw = vis->at(layer, h);
    if (hw.full()) continue;
    r.full = false;
    if (hw.dead()) {
      r.S[h] = 0;
      r.W[h] = 1;
    } else {
      r.S[h] = hw.sink;
      r.W[h] = hw.window;
    }
  }
  return r;
}

}  // namespace

AttentionFn parallel_attention(const NeoXModel& model, const ParallelAttentionOptions& opt) {
  return [&model, &opt](int64_t layer, QKV& x) -> at::Tensor {
    const int64_t H = x.q.size(0), T = x.q.size(1);
    const auto dev = x.q.device();
    at::Tensor pos = opt.positions.defined() ? opt.positions
                                             : at::arange(T, at::TensorOptions().dtype(at::kLong));
    at::Tensor q = model.rotate(x.q, pos);
    at::Tensor k = model.rotate(x.k, pos);
    const at::Tensor& v = x.v;
    if (opt.visibility) {
      TORCH_CHECK(opt.visibility->layers() == model.config().num_layers &&
                      opt.visibility->heads() == H,
                  "visibility shape does not match the model");
    }
    LayerRule rule = layer_rule(opt.visibility, layer, H);
    auto lopt = at::TensorOptions().dtype(at::kLong);
    at::Tensor S = at::tensor(rule.S, lopt).to(dev).view({H, 1, 1});
    at::Tensor W = at::tensor(rule.W, lopt).to(dev).view({H, 1, 1});

    const int64_t B = std::max<int64_t>(1, opt.query_block);
    std::vector<at::Tensor> outs;
    for (int64_t qs = 0; qs < T; qs += B) {
      const int64_t qe = std::min(T, qs + B), nq = qe - qs;
      // Keys some head can see: [0, sink_hi) U [lo, qe).
      int64_t lo = 0, sink_hi = 0;
      if (!rule.full) {
        lo = qs;
        for (int64_t h = 0; h < H; ++h) {
          int64_t w = rule.W[h];
          lo = std::min(lo, std::max<int64_t>(0, qs - w + 1));
        }
        for (int64_t h = 0; h < H; ++h) sink_hi = std::max(sink_hi, std::min(rule.S[h], lo));
      }
      at::Tensor key_index;
      if (sink_hi > 0)
        key_index = at::cat({at::arange(sink_hi, lopt), at::arange(lo, qe, lopt)});
      else
        key_index = at::arange(lo, qe, lopt);
      const bool contiguous = sink_hi == 0;
      at::Tensor kb, vb;
      if (contiguous) {
        kb = k.narrow(1, lo, qe - lo);
        vb = v.narrow(1, lo, qe - lo);
      } else {
        at::Tensor idx = key_index.to(dev);
        kb = k.index_select(1, idx);
        vb = v.index_select(1, idx);
      }
      at::Tensor qi = at::arange(qs, qe, lopt).to(dev).view({1, nq, 1});
      at::Tensor ki = key_index.to(dev).view({1, 1, -1});
      at::Tensor mask = (ki <= qi).logical_and((ki < S).logical_or((qi - ki) < W));
      at::Tensor probs;
      at::Tensor out = masked_attention(q.narrow(1, qs, nq), kb, vb, mask,
                                        opt.observer ? &probs : nullptr);
      if (opt.observer) {
        AttentionBlock blk;
        blk.layer = layer;
        blk.q_begin = qs;
        blk.probs = probs;
        blk.key_index = key_index;
        blk.keys_from_zero = contiguous && lo == 0;
        opt.observer->observe(blk);
      }
      outs.push_back(out);
    }
    return outs.size() == 1 ? outs[0] : at::cat(outs, 1);
  };
}

}  // namespace headscope
