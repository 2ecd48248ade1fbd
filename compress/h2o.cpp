// H2O (Zhang et al., NeurIPS 2023: "Heavy-Hitter Oracle"), for the prefill protocol: every key's
// score is the attention it accumulated from all N queries of the context (the sum over the
// causal attention rows, per query head, then averaged over the query heads of its KV head);
// a KV head keeps its most recent int(recent_share * n_kept) tokens and, of the rest, the
// heavy hitters with the highest accumulated attention, n_kept in all. kvpress has no H2O press
// (its ObservedAttentionPress divides the sum by the number of queries that saw the key and
// protects nothing), so this one is checked against a brute-force reference only.
#include "common/error.h"
#include "compress/prefill_press.h"
#include "compress/registry.h"

#include <cmath>

namespace headscope {

namespace {

class H2OPress : public PrefillPress {
 public:
  H2OPress(double r, double recent) : PrefillPress(r), recent_(recent) {}
  std::string name() const override { return "h2o"; }
  nlohmann::json params() const override {
    auto j = base_params();
    j["recent_share"] = recent_;
    return j;
  }
  bool needs_accumulated_attention() const override { return true; }
  at::Tensor score(const PrefillLayerView& v) const override {
    const int64_t Hkv = v.keys.size(0), N = v.keys.size(1);
    require(v.accumulated_attention.defined(), "h2o: the prefill did not accumulate attention");
    at::Tensor s = detail::mean_over_groups(v.accumulated_attention.to(at::kCPU, at::kFloat), Hkv)
                       .contiguous();
    const int64_t recent = std::min<int64_t>(N, int64_t(recent_ * double(budget(N))));
    // Accumulated attention never exceeds N; recent tokens rank above every heavy hitter.
    if (recent > 0) s.narrow(1, N - recent, recent).fill_(float(N + 1));
    return s;
  }

 private:
  double recent_;
};

}  // namespace

std::unique_ptr<PrefillPress> make_h2o_press(double ratio, double recent_share) {
  require(std::isfinite(recent_share) && recent_share >= 0.0 && recent_share <= 1.0,
          "h2o: --recent-share must be in [0, 1], got " + std::to_string(recent_share));
  return std::make_unique<H2OPress>(ratio, recent_share);
}

HEADSCOPE_REGISTER_PRESS([] {
  PressInfo i;
  i.name = "h2o";
  i.help = "recent tokens + heavy hitters of accumulated attention (H2O)";
  i.rank = 50;
  i.options = {real_option("recent-share", 0.5, 0.0, 1.0,
                           "share of the budget kept for the most recent tokens")};
  i.factory = [](const ResolvedOptions& o, double ratio, std::unique_ptr<PrefillPress>) {
    return make_h2o_press(ratio, o.real("recent-share"));
  };
  return i;
}());

}  // namespace headscope
