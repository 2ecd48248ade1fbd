// Per-head budgets in the style of AdaKV (Feng et al., 2024), as kvpress 0.5's AdaKVPress
// implements them, for the prefill protocol. The inner press scores every key of every KV head;
// the layer's budget H_kv * n_kept (n_kept = int(N * (1 - ratio))) is then shared across its KV
// heads by score:
//  - safeguard: each head first protects its n_safe = int(n_kept * alpha_safeguard) (at least 1
//    when alpha_safeguard > 0) highest-scoring keys (their scores are raised to the float32 maximum);
//  - the H_kv * (N - n_kept) lowest scores of the whole layer are evicted, wherever they are.
// Heads therefore keep different numbers of tokens (at least n_safe each); the cache holds them
// ragged (kvpress keeps them and masks the evicted ones out of attention: the same attention).
#include "common/error.h"
#include "compress/prefill_press.h"
#include "compress/registry.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace headscope {

namespace {

class AdaKVPress : public PrefillPress {
 public:
  AdaKVPress(std::unique_ptr<PrefillPress> inner, double alpha)
      : PrefillPress(inner->compression_ratio()), inner_(std::move(inner)), alpha_(alpha) {}
  std::string name() const override { return "adakv"; }
  nlohmann::json params() const override {
    auto j = base_params();
    j["alpha_safeguard"] = alpha_;
    j["press"] = inner_->params();
    return j;
  }
  bool needs_accumulated_attention() const override { return inner_->needs_accumulated_attention(); }
  void check_context(int64_t n) const override { inner_->check_context(n); }
  at::Tensor score(const PrefillLayerView& v) const override { return inner_->score(v); }

  std::vector<std::vector<int64_t>> select(const PrefillLayerView& v) const override {
    at::Tensor s = score(v).to(at::kCPU, at::kFloat).contiguous().clone();
    const int64_t H = s.size(0), N = s.size(1);
    const int64_t n_kept = budget(N);
    int64_t n_safe = static_cast<int64_t>(double(n_kept) * alpha_);
    if (alpha_ > 0) n_safe = std::max<int64_t>(1, n_safe);
    float* p = s.data_ptr<float>();
    auto safe = detail::topk_rows(s, n_safe);
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i : safe[h]) p[h * N + i] = std::numeric_limits<float>::max();
    // Evict the H * (N - n_kept) lowest scores of the layer (ties: the earlier flat index is
    // evicted first, as torch.topk(-scores) returns on these inputs).
    const int64_t n_pruned = H * (N - n_kept);
    std::vector<int64_t> idx(static_cast<size_t>(H * N));
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + n_pruned, idx.end(), [&](int64_t a, int64_t b) {
      if (p[a] != p[b]) return p[a] < p[b];
      return a < b;
    });
    std::vector<char> evicted(static_cast<size_t>(H * N), 0);
    for (int64_t i = 0; i < n_pruned; ++i) evicted[idx[i]] = 1;
    std::vector<std::vector<int64_t>> keep(static_cast<size_t>(H));
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < N; ++i)
        if (!evicted[h * N + i]) keep[h].push_back(i);
    return keep;
  }

 private:
  std::unique_ptr<PrefillPress> inner_;
  double alpha_;
};

}  // namespace

std::unique_ptr<PrefillPress> make_adakv_press(std::unique_ptr<PrefillPress> inner, double alpha) {
  require(std::isfinite(alpha) && alpha >= 0.0 && alpha <= 1.0,
          "adakv: --adakv-alpha must be in [0, 1], got " + std::to_string(alpha));
  return std::make_unique<AdaKVPress>(std::move(inner), alpha);
}

HEADSCOPE_REGISTER_PRESS([] {
  PressInfo i;
  i.name = "adakv";
  i.help = "another press's scores shared across the KV heads of a layer (AdaKV)";
  i.rank = 60;
  i.inner_press_flag = "adakv-press";
  i.options = {real_option("adakv-alpha", 0.2, 0.0, 1.0,
                           "share of each head's uniform budget always kept"),
               text_option("adakv-press", "snapkv", "press whose scores are shared across heads")};
  i.factory = [](const ResolvedOptions& o, double, std::unique_ptr<PrefillPress> inner) {
    return make_adakv_press(std::move(inner), o.real("adakv-alpha"));
  };
  return i;
}());

}  // namespace headscope
