// TOVA (Oren et al., 2024: "Transformers are Multi-State RNNs") as kvpress 0.5's TOVAPress
// implements it, for the prefill protocol: the last query of the context attends over every key
// (softmax in float32 over all N keys), the weights are averaged over *all* query heads of the
// layer and the same score is used for every KV head (so every head of a layer keeps the same
// tokens), and the last token itself gets the maximum score + 1 (it is always kept).
#include "common/error.h"
#include "compress/prefill_press.h"
#include "compress/registry.h"

namespace headscope {

namespace {

class TOVAPress : public PrefillPress {
 public:
  explicit TOVAPress(double r) : PrefillPress(r) {}
  std::string name() const override { return "tova"; }
  nlohmann::json params() const override { return base_params(); }
  void check_context(int64_t n) const override {
    PrefillPress::check_context(n);
    require(n >= 2, "tova: the context must hold at least 2 tokens");
  }
  at::Tensor score(const PrefillLayerView& v) const override {
    const int64_t Hkv = v.keys.size(0);
    at::Tensor a = detail::window_attention(v, 1);  // [Hq, 1, N-1]
    at::Tensor s = a.squeeze(1).mean(0, true);      // [1, N-1]
    const float mx = s.max().item<float>();
    s = at::cat({s, at::full({1, 1}, mx + 1.0f, s.options())}, 1);
    return s.expand({Hkv, s.size(1)}).contiguous();
  }
};

}  // namespace

std::unique_ptr<PrefillPress> make_tova_press(double ratio) {
  return std::make_unique<TOVAPress>(ratio);
}

HEADSCOPE_REGISTER_PRESS([] {
  PressInfo i;
  i.name = "tova";
  i.help = "keys the last query attends to, averaged over heads (kvpress TOVAPress)";
  i.rank = 40;
  i.factory = [](const ResolvedOptions&, double ratio, std::unique_ptr<PrefillPress>) {
    return make_tova_press(ratio);
  };
  return i;
}());

}  // namespace headscope
