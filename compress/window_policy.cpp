// Per-(layer, head) sink/window policy on a real KV cache: the cache-side twin of the parallel
// mask engine. For layer l, head h with HeadWindow w = visibility.at(l, h) (model/visibility.h,
// THE shared rule), after each step keep the slot holding text position p iff
// w.sees(next_pos, p): the sink prefix p < sink and the last window - 1 positions
// (next_pos - p < window), so that the next query, which also sees itself, sees exactly the keys
// the mask engine lets it see. Full heads (window -1) keep everything; dead heads (window 0)
// keep nothing. Slot positions are the tokens' text positions whatever the rotary convention.
#include "common/error.h"
#include "compress/compressor.h"

namespace headscope {

namespace {

class WindowPolicy : public Compressor {
 public:
  explicit WindowPolicy(Visibility v) : vis_(std::move(v)) {}
  std::string name() const override { return "window_policy"; }
  nlohmann::json params() const override {
    auto j = base_params();
    int64_t full = 0, dead = 0, windowed = 0;
    for (int64_t l = 0; l < vis_.layers(); ++l)
      for (int64_t h = 0; h < vis_.heads(); ++h) {
        const HeadWindow& w = vis_.at(l, h);
        (w.full() ? full : w.dead() ? dead : windowed) += 1;
      }
    j["full_heads"] = full;
    j["windowed_heads"] = windowed;
    j["dead_heads"] = dead;
    return j;
  }
  void check(const KVCache& cache) const override {
    Compressor::check(cache);
    require(vis_.layers() == cache.layers() && vis_.heads() == cache.heads(),
            "window_policy: the visibility has " + std::to_string(vis_.layers()) + " layers x " +
                std::to_string(vis_.heads()) + " heads, the model " +
                std::to_string(cache.layers()) + " x " + std::to_string(cache.heads()));
  }

 protected:
  void compress_layer(KVCache& cache, int64_t layer, int64_t next_pos) override {
    if (vis_.layer_is_full(layer)) return;
    std::vector<std::vector<int64_t>> keep(static_cast<size_t>(cache.heads()));
    bool any = false;
    for (int64_t h = 0; h < cache.heads(); ++h) {
      const HeadWindow& w = vis_.at(layer, h);
      const auto& pos = cache.positions(layer, h);
      for (int64_t s = 0; s < static_cast<int64_t>(pos.size()); ++s) {
        if (w.sees(next_pos, pos[s]))
          keep[h].push_back(s);
        else
          any = true;
      }
    }
    if (any) cache.keep(layer, keep);
  }

 private:
  const Visibility vis_;  // owned: a temporary passed to make_window_policy cannot dangle
};

}  // namespace

std::unique_ptr<Compressor> make_window_policy(Visibility visibility) {
  for (int64_t l = 0; l < visibility.layers(); ++l)
    for (int64_t h = 0; h < visibility.heads(); ++h)
      require(visibility.at(l, h).sink >= 0 && visibility.at(l, h).window >= -1,
              "window_policy: sink must be >= 0 and window >= -1 (layer " + std::to_string(l) +
                  ", head " + std::to_string(h) + ")");
  return std::make_unique<WindowPolicy>(std::move(visibility));
}

}  // namespace headscope
