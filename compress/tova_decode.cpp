// TOVA, token omission via attention (Oren et al., 2024), during decoding: a fixed cache of
// cache_size entries per head; after every decoding step, while a head holds more than
// cache_size entries, the entry that the step's query attended to least is evicted. The
// score of a slot is the step's attention probability averaged over
//   granularity "layer" (the paper's default): every query head of the layer, so all heads of
//     the layer evict the same slot and the layer stays uniform;
//   granularity "kv_head": the query heads of one KV head (its GQA group), so each KV head
//     (the unit a real cache can evict) keeps its own slots.
// The current token competes like any other (TOVA may evict it). Ties go to the older slot
// (the lowest slot index is evicted first). Kept slots stay in temporal order. With
// several entries over budget (a cache longer than cache_size when compression starts) the
// n - cache_size lowest are evicted at once, by the same step's scores.
// Parameters: cache_size >= 1.
#include <algorithm>
#include <numeric>

#include "common/error.h"
#include "compress/compressor.h"
#include "compress/registry.h"

namespace headscope {

namespace {

class TovaDecode : public Compressor {
 public:
  TovaDecode(int64_t cache_size, bool per_kv_head) : size_(cache_size), per_kv_head_(per_kv_head) {}
  std::string name() const override { return "tova"; }
  bool needs_attention() const override { return true; }
  nlohmann::json params() const override {
    auto j = base_params();
    j["cache_size"] = size_;
    j["granularity"] = per_kv_head_ ? "kv_head" : "layer";
    return j;
  }

 protected:
  void compress_layer(KVCache& cache, int64_t layer, int64_t) override {
    if (cache.max_length(layer) <= size_) return;
    at::Tensor a = step_attention(cache, layer);  // [KV, G, L]
    const int64_t KV = a.size(0), L = a.size(2);
    at::Tensor per_head = a.sum(1);  // [KV, L]: sum over the group (a mean up to a constant)
    if (!per_kv_head_) {
      at::Tensor s = per_head.sum(0);  // every query head of the layer
      auto acc = s.accessor<float, 1>();
      const int64_t n = cache.length(layer, 0);
      for (int64_t h = 1; h < KV; ++h)
        require(cache.length(layer, h) == n, "tova (layer granularity): layer " + std::to_string(layer) +
                                                 " has heads of different lengths");
      cache.keep_all_heads(layer, keep_slots([&](int64_t j) { return acc[j]; }, n));
      return;
    }
    auto acc = per_head.accessor<float, 2>();
    std::vector<std::vector<int64_t>> keep;
    for (int64_t h = 0; h < KV; ++h) {
      const int64_t n = cache.length(layer, h);
      require(n <= L, "tova: attention shorter than the cache");
      keep.push_back(keep_slots([&](int64_t j) { return acc[h][j]; }, n));
    }
    cache.keep(layer, keep);
  }

 private:
  // The slots of a head of n entries to keep: all when n <= size_, else the size_ with the
  // highest scores (ties: the newer slot is kept), in temporal order.
  template <class Score>
  std::vector<int64_t> keep_slots(const Score& score, int64_t n) const {
    std::vector<int64_t> idx(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), int64_t(0));
    if (n <= size_) return idx;
    // evict order: lowest score first, the older slot first among equal scores
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t x, int64_t y) { return score(x) < score(y); });
    std::vector<int64_t> kept(idx.begin() + (n - size_), idx.end());
    std::sort(kept.begin(), kept.end());
    return kept;
  }

  int64_t size_;
  bool per_kv_head_;
};

}  // namespace

std::unique_ptr<Compressor> make_tova(int64_t cache_size, const std::string& granularity) {
  require(cache_size >= 1, "tova: --cache-size must be >= 1, got " + std::to_string(cache_size));
  require(granularity == "layer" || granularity == "kv_head",
          "tova: --granularity must be layer or kv_head, got '" + granularity + "'");
  return std::make_unique<TovaDecode>(cache_size, granularity == "kv_head");
}

HEADSCOPE_REGISTER_COMPRESSOR([] {
  CompressorInfo i;
  i.name = "tova";
  i.help = "fixed cache: evict the entry the step's query attended to least (TOVA; attention-aware)";
  i.rank = 50;
  i.options = {int_option("cache-size", 512, 1, std::nullopt, "entries kept per head"),
               choice_option("granularity", "layer", {"layer", "kv_head"},
                             "scores averaged over the layer's heads or over each KV head's group")};
  i.factory = [](const ResolvedOptions& o) { return make_tova(o.integer("cache-size"), o.text("granularity")); };
  return i;
}());

}  // namespace headscope
