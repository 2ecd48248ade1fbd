// StreamingLLM (Xiao et al., ICLR 2024), exactly as the Python original applies it after every
// decoding step:
//   cache_size = start_size + recent_size; for a head holding n entries with n > cache_size,
//   keep slots [0, start_size) (the attention sinks) and the last recent_size slots
//   [n - recent_size, n), in that order; otherwise keep everything.
// Parameters: start_size >= 0, recent_size >= 0, start_size + recent_size >= 1. (With
// recent_size 0 the Python slice keys[-0:] would keep the whole cache; here 0 means none.)
#include "common/error.h"
#include "compress/compressor.h"

namespace headscope {

namespace {

class StreamingLLM : public Compressor {
 public:
  StreamingLLM(int64_t start, int64_t recent) : start_(start), recent_(recent) {}
  std::string name() const override { return "streaming_llm"; }
  nlohmann::json params() const override {
    auto j = base_params();
    j["start_size"] = start_;
    j["recent_size"] = recent_;
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
};

}  // namespace

std::unique_ptr<Compressor> make_streaming_llm(int64_t start_size, int64_t recent_size) {
  require(start_size >= 0, "streaming_llm: --start-size must be >= 0, got " + std::to_string(start_size));
  require(recent_size >= 0, "streaming_llm: --recent-size must be >= 0, got " + std::to_string(recent_size));
  require(start_size + recent_size >= 1,
          "streaming_llm: --start-size + --recent-size must be >= 1 (a cache of 0 entries)");
  return std::make_unique<StreamingLLM>(start_size, recent_size);
}

}  // namespace headscope
