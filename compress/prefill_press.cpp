#include "compress/prefill_press.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/error.h"

namespace headscope {

void PrefillPress::check_context(int64_t n) const {
  require(budget(n) >= 1, name() + ": a context of " + std::to_string(n) +
                              " tokens at compression ratio " + std::to_string(ratio_) +
                              " keeps no entry");
}

int64_t PrefillPress::budget(int64_t n) const {
  return std::max<int64_t>(1, static_cast<int64_t>(double(n) * (1.0 - ratio_)));
}

nlohmann::json PrefillPress::base_params() const {
  return {{"method", name()}, {"compression_ratio", ratio_}};
}

std::vector<std::vector<int64_t>> PrefillPress::select(const PrefillLayerView& view) const {
  return detail::topk_rows(score(view), budget(view.keys.size(1)));
}

namespace detail {

std::vector<std::vector<int64_t>> topk_rows(const at::Tensor& scores, int64_t k) {
  at::Tensor s = scores.to(at::kCPU, at::kFloat).contiguous();
  const int64_t H = s.size(0), N = s.size(1);
  k = std::max<int64_t>(0, std::min(k, N));
  const float* p = s.data_ptr<float>();
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(H));
  std::vector<int64_t> idx(static_cast<size_t>(N));
  for (int64_t h = 0; h < H; ++h) {
    const float* r = p + h * N;
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) {
      if (r[a] != r[b]) return r[a] > r[b];
      return a > b;
    });
    out[h].assign(idx.begin(), idx.begin() + k);
    std::sort(out[h].begin(), out[h].end());
  }
  return out;
}

at::Tensor window_attention(const PrefillLayerView& view, int64_t w) {
  const int64_t Hq = view.queries.size(0), N = view.keys.size(1), D = view.keys.size(2);
  const int64_t Hkv = view.keys.size(0), g = Hq / Hkv;
  at::Tensor q = view.queries.narrow(1, N - w, w).to(at::kFloat).reshape({Hkv, g * w, D});
  at::Tensor k = view.keys.to(at::kFloat);
  at::Tensor s = at::matmul(q, k.transpose(-1, -2)).reshape({Hq, w, N}) / std::sqrt(double(D));
  // causal mask inside the window: query i of the window sees window keys j <= i
  at::Tensor tri = at::ones({w, w}, at::TensorOptions().dtype(at::kBool).device(s.device())).triu(1);
  s.narrow(2, N - w, w).masked_fill_(tri, -std::numeric_limits<float>::infinity());
  at::Tensor p = at::softmax(s, -1, at::kFloat);
  return p.narrow(2, 0, N - w).to(at::kCPU).contiguous();
}

at::Tensor mean_over_groups(const at::Tensor& x, int64_t kv_heads) {
  const int64_t Hq = x.size(0), g = Hq / kv_heads;
  std::vector<int64_t> shape = {kv_heads, g};
  for (int64_t d = 1; d < x.dim(); ++d) shape.push_back(x.size(d));
  return x.reshape(shape).mean(1);
}

}  // namespace detail

}  // namespace headscope
