// Fixed-size L2 eviction (the Python original's fix_size_l2_compress), applied after every
// decoding step. For a head holding n entries with n > fix_kv_size F:
//   P = min(floor(F * keep_ratio), n) most recent slots are protected; the eviction zone is the
//   first n - P slots; K = F - P of them are kept:
//   - K <= 0: keep only the P protected slots;
//   - zone has <= K slots: keep everything;
//   - otherwise keep the K zone slots with the lowest (keep_low) or highest (keep_high) key L2
//     norm, or K random ones (random, from a generator seeded with `seed`), in temporal order,
//     followed by the protected slots.
// Norms are L2 norms of the cached key vectors in float64 from the stored keys (ties: the earlier slot).
// Parameters: fix_kv_size >= 1, 0 <= keep_ratio <= 1, strategy keep_low | keep_high | random.
#include <cmath>
#include <random>

#include "common/error.h"
#include "compress/compressor.h"
#include "compress/registry.h"

namespace headscope {

namespace {

enum class Strategy { KeepLow, KeepHigh, Random };

class FixSizeL2 : public Compressor {
 public:
  FixSizeL2(int64_t F, double r, Strategy s, std::string sname, uint64_t seed)
      : F_(F), ratio_(r), strategy_(s), sname_(std::move(sname)), seed_(seed), rng_(seed) {}
  std::string name() const override { return "fix_size_l2"; }
  nlohmann::json params() const override {
    auto j = base_params();
    j["fix_kv_size"] = F_;
    j["keep_ratio"] = ratio_;
    j["strategy"] = sname_;
    if (strategy_ == Strategy::Random) j["seed"] = seed_;
    return j;
  }

 protected:
  void compress_layer(KVCache& cache, int64_t layer, int64_t) override {
    if (cache.max_length(layer) <= F_) return;
    at::Tensor norms;
    const double* p = nullptr;
    int64_t stride = 0;
    if (strategy_ != Strategy::Random) {
      norms = cache.key_norms(layer);
      p = norms.data_ptr<double>();
      stride = norms.size(1);
    }
    std::vector<std::vector<int64_t>> keep;
    bool any = false;
    for (int64_t h = 0; h < cache.heads(); ++h) {
      const int64_t n = cache.length(layer, h);
      std::vector<int64_t> s;
      const int64_t P = std::min<int64_t>(static_cast<int64_t>(double(F_) * ratio_), n);
      const int64_t zone = n - P;
      const int64_t K = F_ - P;
      if (n <= F_ || (K > 0 && zone <= K)) {
        for (int64_t i = 0; i < n; ++i) s.push_back(i);
      } else {
        any = true;
        if (K > 0) {
          if (strategy_ == Strategy::Random) {
            std::vector<int64_t> idx(static_cast<size_t>(zone));
            for (int64_t i = 0; i < zone; ++i) idx[i] = i;
            for (int64_t i = 0; i < K; ++i) {  // partial Fisher-Yates
              std::uniform_int_distribution<int64_t> d(i, zone - 1);
              std::swap(idx[i], idx[d(rng_)]);
            }
            idx.resize(static_cast<size_t>(K));
            std::sort(idx.begin(), idx.end());
            s = std::move(idx);
          } else {
            s = detail::select_by_norm(p + h * stride, zone, K, strategy_ == Strategy::KeepLow);
          }
        }
        for (int64_t i = zone; i < n; ++i) s.push_back(i);
      }
      keep.push_back(std::move(s));
    }
    if (any) cache.keep(layer, keep);
  }

 private:
  int64_t F_;
  double ratio_;
  Strategy strategy_;
  std::string sname_;
  uint64_t seed_;
  std::mt19937_64 rng_;
};

}  // namespace

std::unique_ptr<Compressor> make_fix_size_l2(int64_t fix_kv_size, double keep_ratio,
                                             const std::string& strategy, uint64_t seed) {
  require(std::isfinite(keep_ratio) && keep_ratio >= 0.0 && keep_ratio <= 1.0,
          "fix_size_l2: --keep-ratio must be in [0, 1], got " + std::to_string(keep_ratio));
  require(fix_kv_size >= 1, "fix_size_l2: --fix-kv-size must be >= 1, got " + std::to_string(fix_kv_size));
  const int64_t P = static_cast<int64_t>(double(fix_kv_size) * keep_ratio);
  require(fix_kv_size >= P, "fix_size_l2: --fix-kv-size " + std::to_string(fix_kv_size) +
                                " is smaller than the protected recent part " + std::to_string(P));
  Strategy s;
  if (strategy == "keep_low") s = Strategy::KeepLow;
  else if (strategy == "keep_high") s = Strategy::KeepHigh;
  else if (strategy == "random") s = Strategy::Random;
  else
    throw Error("fix_size_l2: unknown --strategy '" + strategy +
                "' (expected keep_low, keep_high or random)");
  return std::make_unique<FixSizeL2>(fix_kv_size, keep_ratio, s, strategy, seed);
}

HEADSCOPE_REGISTER_COMPRESSOR([] {
  CompressorInfo i;
  i.name = "fix_size_l2";
  i.help = "fixed cache size: a protected recent part plus key-norm-ranked older entries";
  i.rank = 40;
  i.options = {int_option("fix-kv-size", 512, 1, std::nullopt, "cache size kept"),
               real_option("keep-ratio", 0.2, 0.0, 1.0, "protected recent share of --fix-kv-size"),
               choice_option("strategy", "keep_low", {"keep_low", "keep_high", "random"},
                             "which older entries are kept"),
               int_option("seed", 0, 0, std::nullopt, "generator seed of --strategy random")};
  i.factory = [](const ResolvedOptions& o) {
    return make_fix_size_l2(o.integer("fix-kv-size"), o.real("keep-ratio"), o.text("strategy"),
                            static_cast<uint64_t>(o.integer("seed")));
  };
  return i;
}());

}  // namespace headscope
