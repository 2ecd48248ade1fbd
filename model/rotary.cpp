#include "model/rotary.h"

#include <cmath>

#include "common/error.h"

namespace headscope {

namespace {

double yarn_mscale(double scale, double mscale = 1.0) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

}  // namespace

std::pair<at::Tensor, double> Rotary::inverse_frequencies(const ModelConfig& c) {
  const RopeConfig& r = c.rope;
  const int64_t rd = c.rotary_ndims();
  auto fopt = at::TensorOptions().dtype(at::kFloat);
  at::Tensor exps = at::arange(0, rd, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) / double(rd);
  at::Tensor inv = 1.0 / at::pow(r.theta, exps);  // float32, as transformers' default
  double scaling = 1.0;
  if (r.type == "default") {
  } else if (r.type == "linear") {
    inv = inv / r.factor;
  } else if (r.type == "llama3") {
    const double old_ctx = double(r.original_max_position_embeddings > 0
                                      ? r.original_max_position_embeddings
                                      : c.max_position_embeddings);
    const double low_wl = old_ctx / r.low_freq_factor, high_wl = old_ctx / r.high_freq_factor;
    at::Tensor wavelen = 2.0 * M_PI / inv;
    at::Tensor llama = at::where(wavelen > low_wl, inv / r.factor, inv);
    at::Tensor smooth = (old_ctx / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
    at::Tensor smoothed = (1 - smooth) * llama / r.factor + smooth * llama;
    at::Tensor medium = at::logical_and(at::logical_not(wavelen < high_wl),
                                        at::logical_not(wavelen > low_wl));
    inv = at::where(medium, smoothed, llama);
  } else if (r.type == "yarn") {
    double factor = r.factor;
    double orig = double(c.max_position_embeddings);
    if (r.original_max_position_embeddings > 0) {
      // transformers: with an explicit original context, the factor is the context ratio.
      orig = double(r.original_max_position_embeddings);
      factor = double(c.max_position_embeddings) / orig;
    }
    if (r.attention_factor > 0) {
      scaling = r.attention_factor;
    } else if (r.mscale > 0 && r.mscale_all_dim > 0) {
      scaling = yarn_mscale(factor, r.mscale) / yarn_mscale(factor, r.mscale_all_dim);
    } else {
      scaling = yarn_mscale(factor);
    }
    auto corr_dim = [&](double rot) {
      return (double(rd) * std::log(orig / (rot * 2 * M_PI))) / (2 * std::log(r.theta));
    };
    double low = corr_dim(r.beta_fast), high = corr_dim(r.beta_slow);
    if (r.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, double(rd - 1));
    if (low == high) high += 0.001;
    at::Tensor pos_freqs = at::pow(r.theta, exps);
    at::Tensor extra = 1.0 / pos_freqs, inter = 1.0 / (factor * pos_freqs);
    at::Tensor ramp = at::clamp((at::arange(rd / 2, fopt) - low) / (high - low), 0, 1);
    at::Tensor extra_factor = 1 - ramp;
    inv = inter * (1 - extra_factor) + extra * extra_factor;
  } else {
    throw Error("rope type '" + r.type + "' is not supported (supported: default, linear, llama3, yarn)");
  }
  return {inv.contiguous(), scaling};
}

Rotary::Rotary(const ModelConfig& c, at::Device device)
    : rd_(c.rotary_ndims()), D_(c.head_dim()), device_(device) {
  auto [inv, s] = inverse_frequencies(c);
  inv_freq_ = inv.to(device);
  scaling_ = s;
}

std::pair<at::Tensor, at::Tensor> Rotary::tables(const at::Tensor& positions, at::ScalarType dt) const {
  at::Tensor pos = positions.to(device_, at::kFloat);
  at::Tensor freqs = at::outer(pos, inv_freq_);  // [T, rd/2] float32
  at::Tensor emb = at::cat({freqs, freqs}, -1);  // [T, rd]
  at::Tensor cos = emb.cos(), sin = emb.sin();
  if (scaling_ != 1.0) {
    cos = cos * scaling_;
    sin = sin * scaling_;
  }
  return {cos.to(dt), sin.to(dt)};
}

at::Tensor Rotary::apply(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) const {
  if (rd_ == 0) return x;
  at::Tensor xr = rd_ == x.size(-1) ? x : x.narrow(-1, 0, rd_);
  at::Tensor x1 = xr.narrow(-1, 0, rd_ / 2), x2 = xr.narrow(-1, rd_ / 2, rd_ / 2);
  at::Tensor rot = at::cat({-x2, x1}, -1);
  at::Tensor out = xr * cos + rot * sin;
  if (rd_ == x.size(-1)) return out;
  return at::cat({out, x.narrow(-1, rd_, x.size(-1) - rd_)}, -1);
}

at::Tensor Rotary::rotate(const at::Tensor& x, const at::Tensor& positions) const {
  auto [c, s] = tables(positions, x.scalar_type());
  return apply(x, c, s);
}

}  // namespace headscope
