// Metrics shared by every evaluator: PPL = exp(mean NLL over the N-1 next-token predictions),
// accuracy = share of predictions whose argmax is the target.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace headscope {

struct EvalResult {
  std::string method = "dense";
  std::string positions = "true";  // rotary position convention used
  int64_t tokens = 0;              // tokens fed (N); predictions = N - 1
  double mean_nll = 0, ppl = 0, accuracy = 0;
  double wall_s = 0, tokens_per_s = 0;
  std::vector<double> nll;         // per prediction
  nlohmann::json extra = nlohmann::json::object();  // evaluator-specific fields

  void finalize_from(const std::vector<double>& nlls, const std::vector<int64_t>& argmax,
                     const std::vector<int64_t>& targets) {
    nll = nlls;
    double s = 0;
    int64_t correct = 0;
    for (size_t i = 0; i < nlls.size(); ++i) {
      s += nlls[i];
      correct += argmax[i] == targets[i];
    }
    const double n = double(nlls.size());
    mean_nll = n > 0 ? s / n : 0;
    ppl = std::exp(mean_nll);
    accuracy = n > 0 ? double(correct) / n : 0;
  }

  // A non-finite mean NLL (NaN/Inf logits at run time): the numbers mean nothing. Reported as
  // "status": "diverged" (and "ok" otherwise); the CLI then exits non-zero.
  bool diverged() const { return !std::isfinite(mean_nll); }

  nlohmann::json to_json(bool with_nll = false) const {
    nlohmann::json j = {{"method", method},      {"positions", positions},
                        {"tokens", tokens},      {"predictions", tokens > 0 ? tokens - 1 : 0},
                        {"mean_nll", mean_nll},  {"perplexity", ppl},
                        {"accuracy", accuracy},  {"wall_s", wall_s},
                        {"tokens_per_s", tokens_per_s}};
    j["status"] = diverged() ? "diverged" : "ok";
    for (auto& [k, v] : extra.items()) j[k] = v;
    if (with_nll) j["nll"] = nll;
    return j;
  }
};

}  // namespace headscope
