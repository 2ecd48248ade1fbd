// Which keys each query may attend to: per (layer, head) a sink size and a window.
// This is THE policy definition shared by the parallel mask engine and the real KV cache:
// query i of a head with (S, W) sees key j <= i iff j < S or i - j < W.
// window == -1: full causal context. window == 0: a "dead" head that sees only itself.
// Indices are token indices in the text (not rotary positions).
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace headscope {

struct HeadWindow {
  int64_t sink = 0;
  int64_t window = -1;

  bool full() const { return window < 0; }
  bool dead() const { return window == 0; }
  bool sees(int64_t q, int64_t k) const {
    if (k > q) return false;
    if (window < 0) return true;
    if (window == 0) return k == q;
    return k < sink || q - k < window;
  }
  // Number of keys query q sees (for effective-context measurements).
  int64_t visible_count(int64_t q) const {
    if (window < 0) return q + 1;
    if (window == 0) return 1;
    int64_t win_lo = std::max<int64_t>(0, q - window + 1);
    return (q + 1 - win_lo) + std::min(sink, win_lo);
  }
};

class Visibility {
 public:
  Visibility() = default;
  Visibility(int64_t layers, int64_t heads, HeadWindow hw = {})
      : layers_(layers), heads_(heads), w_(static_cast<size_t>(layers * heads), hw) {}
  static Visibility causal(int64_t layers, int64_t heads) { return Visibility(layers, heads); }

  int64_t layers() const { return layers_; }
  int64_t heads() const { return heads_; }
  HeadWindow& at(int64_t l, int64_t h) { return w_[static_cast<size_t>(l * heads_ + h)]; }
  const HeadWindow& at(int64_t l, int64_t h) const { return w_[static_cast<size_t>(l * heads_ + h)]; }
  bool layer_is_full(int64_t l) const {
    for (int64_t h = 0; h < heads_; ++h)
      if (!at(l, h).full()) return false;
    return true;
  }
  bool all_full() const {
    for (const auto& hw : w_)
      if (!hw.full()) return false;
    return true;
  }
  // Mean over heads and queries 0..T-1 of the number of keys actually visible.
  double measured_context(int64_t T) const {
    double total = 0;
    for (const auto& hw : w_)
      for (int64_t q = 0; q < T; ++q) total += double(hw.visible_count(q));
    return w_.empty() || T == 0 ? 0.0 : total / double(w_.size()) / double(T);
  }

 private:
  int64_t layers_ = 0, heads_ = 0;
  std::vector<HeadWindow> w_;
};

}  // namespace headscope
