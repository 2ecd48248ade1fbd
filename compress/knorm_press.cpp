// KnormPress as kvpress 0.5 implements it (kvpress/presses/knorm_press.py), for the prefill
// protocol: score = -||k||_2 of every cached (rotated) key of a KV head, so the n_kept keys with
// the lowest L2 norm are kept (Devoto et al., EMNLP 2024). No position is protected: neither the
// first tokens nor the last ones. (compress/l2_norm.cpp is the Python original's variant: it
// keeps ceil(keep_ratio * n) and can run after every decoding step.)
#include "common/error.h"
#include "compress/prefill_press.h"
#include "compress/registry.h"

namespace headscope {

namespace {

class KnormPress : public PrefillPress {
 public:
  explicit KnormPress(double r) : PrefillPress(r) {}
  std::string name() const override { return "knorm"; }
  nlohmann::json params() const override { return base_params(); }
  at::Tensor score(const PrefillLayerView& v) const override {
    return v.keys.to(at::kFloat).norm(2, -1).neg().to(at::kCPU);
  }
};

}  // namespace

std::unique_ptr<PrefillPress> make_knorm_press(double ratio) {
  return std::make_unique<KnormPress>(ratio);
}

HEADSCOPE_REGISTER_PRESS([] {
  PressInfo i;
  i.name = "knorm";
  i.help = "the keys of lowest L2 norm (kvpress KnormPress)";
  i.rank = 20;
  i.factory = [](const ResolvedOptions&, double ratio, std::unique_ptr<PrefillPress>) {
    return make_knorm_press(ratio);
  };
  return i;
}());

}  // namespace headscope
