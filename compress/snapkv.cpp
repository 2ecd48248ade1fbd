// SnapKV (Li et al., 2024) as kvpress 0.5's SnapKVPress implements it, for the prefill protocol:
//  - the observation window is the last window_size queries of the context;
//  - per query head, those queries attend over every key of the context (scaled dot product,
//    causal inside the window, softmax in float32 over all N keys), and the window's own key
//    columns are dropped: weights [Hq, w, N - w];
//  - score of a key = mean over the window's queries, then average pooling over neighbouring
//    keys (avg_pool1d, kernel kernel_size, stride 1, zero padding kernel_size / 2 counted in the
//    mean), then the mean over the query heads of each KV head (GQA group);
//  - the window's own keys get the layer's maximum score + 1, so they are always kept (the last
//    window_size tokens are protected).
// Requires a context longer than window_size (kvpress asserts q_len > window_size).
#include "common/error.h"
#include "compress/prefill_press.h"
#include "compress/registry.h"

namespace headscope {

namespace {

class SnapKVPress : public PrefillPress {
 public:
  SnapKVPress(double r, int64_t w, int64_t k) : PrefillPress(r), w_(w), k_(k) {}
  std::string name() const override { return "snapkv"; }
  nlohmann::json params() const override {
    auto j = base_params();
    j["window_size"] = w_;
    j["kernel_size"] = k_;
    return j;
  }
  void check_context(int64_t n) const override {
    PrefillPress::check_context(n);
    require(n > w_, "snapkv: the context (" + std::to_string(n) +
                        " tokens) must be longer than --window-size " + std::to_string(w_));
  }
  at::Tensor score(const PrefillLayerView& v) const override {
    const int64_t Hkv = v.keys.size(0);
    at::Tensor a = detail::window_attention(v, w_);  // [Hq, w, N-w]
    at::Tensor s = a.mean(1);                         // [Hq, N-w]
    s = at::avg_pool1d(s.unsqueeze(1), {k_}, {1}, {k_ / 2}, false, true).squeeze(1);
    s = detail::mean_over_groups(s, Hkv);             // [Hkv, N-w]
    const float mx = s.max().item<float>();
    return at::cat({s, at::full({Hkv, w_}, mx + 1.0f, s.options())}, 1).contiguous();
  }

 private:
  int64_t w_, k_;
};

}  // namespace

std::unique_ptr<PrefillPress> make_snapkv_press(double ratio, int64_t window_size, int64_t kernel_size) {
  require(window_size >= 1, "snapkv: --window-size must be >= 1, got " + std::to_string(window_size));
  require(kernel_size >= 1 && kernel_size % 2 == 1,
          "snapkv: --kernel-size must be odd and >= 1, got " + std::to_string(kernel_size));
  return std::make_unique<SnapKVPress>(ratio, window_size, kernel_size);
}

HEADSCOPE_REGISTER_PRESS([] {
  PressInfo i;
  i.name = "snapkv";
  i.help = "keys the last queries attend to, pooled (kvpress SnapKVPress)";
  i.rank = 30;
  i.options = {int_option("window-size", 64, 1, std::nullopt, "observation window (last queries)"),
               int_option("kernel-size", 5, 1, std::nullopt, "pooling kernel over keys (odd)")};
  i.factory = [](const ResolvedOptions& o, double ratio, std::unique_ptr<PrefillPress>) {
    return make_snapkv_press(ratio, o.integer("window-size"), o.integer("kernel-size"));
  };
  return i;
}());

}  // namespace headscope
