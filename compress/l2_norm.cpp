// KnormPress (Devoto et al., EMNLP 2024: "A Simple and Effective L2 Norm-Based Strategy for KV
// Cache Compression"), the Python original's l2_compress:
//   if keep_ratio >= 1: nothing. Otherwise, for a head holding n entries with n > prune_after,
//   keep the ceil(keep_ratio * n) slots whose cached key vectors have the lowest L2 norm, in
//   temporal order (ties: the earlier slot). Norms are L2 norms of the cached key vectors
//   (rotation does not change them), computed in float64 from the stored keys.
// mode "every" applies this after every decoding step, as the Python original does (so the cache
// shrinks to ceil(r*n) each time it passes prune_after). mode "once" compresses each layer only
// the first time it passes prune_after (the prompt compression of the KnormPress paper) and lets
// it grow afterwards.
// Parameters: 0 <= keep_ratio <= 1, prune_after >= 0, mode every | once.
#include <cmath>

#include "common/error.h"
#include "compress/compressor.h"
#include "compress/registry.h"

namespace headscope {

namespace {

class L2Norm : public Compressor {
 public:
  L2Norm(double r, int64_t after, bool once) : ratio_(r), after_(after), once_(once) {}
  std::string name() const override { return "l2"; }
  nlohmann::json params() const override {
    auto j = base_params();
    j["keep_ratio"] = ratio_;
    j["prune_after"] = after_;
    j["mode"] = once_ ? "once" : "every";
    return j;
  }

 protected:
  void compress_layer(KVCache& cache, int64_t layer, int64_t) override {
    if (ratio_ >= 1.0) return;
    if (once_ && done_.size() > static_cast<size_t>(layer) && done_[layer]) return;
    if (cache.max_length(layer) <= after_) return;
    at::Tensor norms = cache.key_norms(layer);  // [H, max_len] float64 CPU
    const int64_t stride = norms.size(1);
    const double* p = norms.data_ptr<double>();
    std::vector<std::vector<int64_t>> keep;
    bool any = false;
    for (int64_t h = 0; h < cache.heads(); ++h) {
      const int64_t n = cache.length(layer, h);
      const int64_t k = static_cast<int64_t>(std::ceil(ratio_ * double(n)));
      if (n <= after_ || k >= n) {
        std::vector<int64_t> all(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) all[i] = i;
        keep.push_back(std::move(all));
        continue;
      }
      any = true;
      keep.push_back(detail::select_by_norm(p + h * stride, n, k, /*low=*/true));
    }
    if (!any) return;
    cache.keep(layer, keep);
    if (once_) {
      if (done_.size() <= static_cast<size_t>(layer)) done_.resize(layer + 1, false);
      done_[layer] = true;
    }
  }

 private:
  double ratio_;
  int64_t after_;
  bool once_;
  std::vector<bool> done_;
};

}  // namespace

std::unique_ptr<Compressor> make_l2(double keep_ratio, int64_t prune_after, const std::string& mode) {
  require(std::isfinite(keep_ratio) && keep_ratio >= 0.0 && keep_ratio <= 1.0,
          "l2: --keep-ratio must be in [0, 1], got " + std::to_string(keep_ratio));
  require(prune_after >= 0, "l2: --prune-after must be >= 0, got " + std::to_string(prune_after));
  require(mode == "every" || mode == "once",
          "l2: --l2-mode must be 'every' or 'once', got '" + mode + "'");
  return std::make_unique<L2Norm>(keep_ratio, prune_after, mode == "once");
}

HEADSCOPE_REGISTER_COMPRESSOR([] {
  CompressorInfo i;
  i.name = "l2";
  i.help = "keep the lowest-key-norm share of each head (KnormPress, the Python original's l2_compress)";
  i.rank = 30;
  i.options = {real_option("keep-ratio", 0.8, 0.0, 1.0, "share of entries kept"),
               int_option("prune-after", 1000, 0, std::nullopt,
                          "compress only when a head holds more entries"),
               choice_option("l2-mode", "every", {"every", "once"},
                             "every (after every step, as the Python original) or once (first "
                             "time only, as the KnormPress paper)")};
  i.factory = [](const ResolvedOptions& o) {
    return make_l2(o.real("keep-ratio"), o.integer("prune-after"), o.text("l2-mode"));
  };
  return i;
}());

}  // namespace headscope
