// StreamingLLM (Xiao et al., ICLR 2024), exactly as the Python original applies it after every
// decoding step:
//   cache_size = start_size + recent_size; for a head holding n entries with n > cache_size,
//   keep slots [0, start_size) (the attention sinks) and the last recent_size slots
//   [n - recent_size, n), in that order; otherwise keep everything.
// Parameters: start_size >= 0, recent_size >= 0, start_size + recent_size >= 1. (With
// recent_size 0 the Python slice keys[-0:] would keep the whole cache; here 0 means none.)
//
// recent_only (the Python original's recent_only_compress) is the same rule with start_size 0
// and recent_size = window: keep only the last `window` slots. Parameter: window >= 1.
#include "common/error.h"
#include "compress/compressor.h"
#include "compress/registry.h"

namespace headscope {

namespace {

class SinkRecent : public Compressor {
 public:
  // recent_only: reported as recent_only(window=recent) with start 0.
  SinkRecent(int64_t start, int64_t recent, bool recent_only)
      : start_(start), recent_(recent), recent_only_(recent_only) {}
  std::string name() const override { return recent_only_ ? "recent_only" : "streaming_llm"; }
  nlohmann::json params() const override {
    auto j = base_params();
    if (recent_only_) {
      j["window"] = recent_;
    } else {
      j["start_size"] = start_;
      j["recent_size"] = recent_;
    }
    return j;
  }

 protected:
  void compress_layer(KVCache& cache, int64_t layer, int64_t) override {
    if (cache.max_length(layer) <= start_ + recent_) return;
    if (cache.uniform(layer)) {
      cache.keep_all_heads(layer, detail::sink_recent_slots(cache.max_length(layer), start_, recent_));
      return;
    }
    std::vector<std::vector<int64_t>> keep;
    for (int64_t h = 0; h < cache.heads(); ++h)
      keep.push_back(detail::sink_recent_slots(cache.length(layer, h), start_, recent_));
    cache.keep(layer, keep);
  }

 private:
  int64_t start_, recent_;
  bool recent_only_;
};

}  // namespace

std::unique_ptr<Compressor> make_streaming_llm(int64_t start_size, int64_t recent_size) {
  require(start_size >= 0, "streaming_llm: --start-size must be >= 0, got " + std::to_string(start_size));
  require(recent_size >= 0, "streaming_llm: --recent-size must be >= 0, got " + std::to_string(recent_size));
  require(start_size + recent_size >= 1,
          "streaming_llm: --start-size + --recent-size must be >= 1 (a cache of 0 entries)");
  return std::make_unique<SinkRecent>(start_size, recent_size, false);
}

std::unique_ptr<Compressor> make_recent_only(int64_t window) {
  require(window >= 1, "recent_only: --window must be >= 1, got " + std::to_string(window));
  return std::make_unique<SinkRecent>(0, window, true);
}

HEADSCOPE_REGISTER_COMPRESSOR([] {
  CompressorInfo i;
  i.name = "streaming_llm";
  i.help = "attention sinks + recent window (StreamingLLM)";
  i.rank = 10;
  i.options = {int_option("start-size", 4, 0, std::nullopt, "attention sinks kept"),
               int_option("recent-size", 508, 0, std::nullopt, "recent entries kept")};
  i.factory = [](const ResolvedOptions& o) {
    return make_streaming_llm(o.integer("start-size"), o.integer("recent-size"));
  };
  return i;
}());

HEADSCOPE_REGISTER_COMPRESSOR([] {
  CompressorInfo i;
  i.name = "recent_only";
  i.help = "sliding window: the last --window entries (streaming_llm with no sink)";
  i.rank = 20;
  i.options = {int_option("window", 512, 1, std::nullopt, "entries kept")};
  i.factory = [](const ResolvedOptions& o) { return make_recent_only(o.integer("window")); };
  return i;
}());

}  // namespace headscope
