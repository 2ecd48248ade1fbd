// Recent-only sliding window (the Python original's recent_only_compress), applied after every
// decoding step: for a head holding n entries with n > window, keep only the last `window`
// slots [n - window, n); otherwise keep everything. This is StreamingLLM with start_size 0.
// Parameter: window >= 1.
#include "common/error.h"
#include "compress/compressor.h"

namespace headscope {

namespace {

class RecentOnly : public Compressor {
 public:
  explicit RecentOnly(int64_t window) : window_(window) {}
  std::string name() const override { return "recent_only"; }
  nlohmann::json params() const override {
    auto j = base_params();
    j["window"] = window_;
    return j;
  }

 protected:
  void compress_layer(KVCache& cache, int64_t layer, int64_t) override {
    if (cache.max_length(layer) <= window_) return;
    if (cache.uniform(layer)) {
      cache.keep_all_heads(layer, detail::sink_recent_slots(cache.max_length(layer), 0, window_));
      return;
    }
    std::vector<std::vector<int64_t>> keep;
    for (int64_t h = 0; h < cache.heads(); ++h)
      keep.push_back(detail::sink_recent_slots(cache.length(layer, h), 0, window_));
    cache.keep(layer, keep);
  }

 private:
  int64_t window_;
};

}  // namespace

std::unique_ptr<Compressor> make_recent_only(int64_t window) {
  require(window >= 1, "recent_only: --window must be >= 1, got " + std::to_string(window));
  return std::make_unique<RecentOnly>(window);
}

}  // namespace headscope
