// StreamingLLMPress as kvpress 0.5 implements it (kvpress/presses/streaming_llm_press.py), for
// the prefill protocol: of a context of N tokens, n_pruned = N - n_kept entries right after the
// n_sink first ones are evicted, i.e. every KV head keeps the first n_sink tokens (attention
// sinks) and the last n_kept - n_sink. The kept keys keep their original rotary positions (no
// re-rotation: kvpress's KeyRerotationPress would re-rotate them, this does not).
// Requires N > n_sink and n_kept >= n_sink (kvpress asserts q_len > n_sink).
#include "common/error.h"
#include "compress/prefill_press.h"
#include "compress/registry.h"

namespace headscope {

namespace {

class StreamingLLMPress : public PrefillPress {
 public:
  StreamingLLMPress(double r, int64_t sink) : PrefillPress(r), sink_(sink) {}
  std::string name() const override { return "streaming_llm"; }
  nlohmann::json params() const override {
    auto j = base_params();
    j["n_sink"] = sink_;
    return j;
  }
  void check_context(int64_t n) const override {
    PrefillPress::check_context(n);
    require(n > sink_ && budget(n) >= sink_,
            "streaming_llm: a context of " + std::to_string(n) + " tokens keeps " +
                std::to_string(budget(n)) + " entries, fewer than --start-size " + std::to_string(sink_));
  }
  at::Tensor score(const PrefillLayerView& v) const override {
    const int64_t H = v.keys.size(0), N = v.keys.size(1);
    at::Tensor s = at::ones({H, N}, at::TensorOptions().dtype(at::kFloat));
    s.narrow(1, sink_, N - budget(N)).zero_();
    return s;
  }

 private:
  int64_t sink_;
};

}  // namespace

std::unique_ptr<PrefillPress> make_streaming_llm_press(double ratio, int64_t n_sink) {
  require(n_sink >= 0, "streaming_llm: --start-size must be >= 0, got " + std::to_string(n_sink));
  return std::make_unique<StreamingLLMPress>(ratio, n_sink);
}

HEADSCOPE_REGISTER_PRESS([] {
  PressInfo i;
  i.name = "streaming_llm";
  i.help = "the first --start-size tokens and the most recent ones (kvpress StreamingLLMPress)";
  i.rank = 10;
  i.options = {int_option("start-size", 4, 0, std::nullopt, "attention sinks kept")};
  i.factory = [](const ResolvedOptions& o, double ratio, std::unique_ptr<PrefillPress>) {
    return make_streaming_llm_press(ratio, o.integer("start-size"));
  };
  return i;
}());

}  // namespace headscope
