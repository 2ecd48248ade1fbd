#include "eval/strided_eval.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>

#include "common/error.h"
#include "model/parallel_attention.h"

namespace headscope {

std::vector<StridedWindow> strided_windows(int64_t n, int64_t context, int64_t stride) {
  require(context >= 2, "--context must be >= 2, got " + std::to_string(context));
  // stride == context (disjoint windows) would leave the first token of every window unscored,
  // as in Hugging Face's guide; refused so that every token 1..N-1 is scored exactly once.
  require(stride >= 1 && stride < context,
          "--stride must be in [1, --context - 1], got " + std::to_string(stride) + " with --context " +
              std::to_string(context));
  require(n >= 2, "need at least 2 tokens to evaluate next-token prediction, got " + std::to_string(n));
  std::vector<StridedWindow> w;
  int64_t prev_end = 0;
  for (int64_t begin = 0; begin < n; begin += stride) {
    const int64_t end = std::min(begin + context, n);
    w.push_back({begin, end, std::max(prev_end, begin + 1)});
    prev_end = end;
    if (end == n) break;
  }
  return w;
}

EvalResult evaluate_strided(const Model& model, const std::vector<int64_t>& ids,
                            const StridedEvalOptions& opt) {
  const int64_t N = static_cast<int64_t>(ids.size());
  const auto windows = strided_windows(N, opt.context, opt.stride);
  c10::InferenceMode guard;
  auto t0 = std::chrono::steady_clock::now();
  at::Tensor all = at::tensor(ids, at::TensorOptions().dtype(at::kLong));
  ParallelAttentionOptions po;
  po.visibility = opt.visibility;
  po.query_block = opt.query_block;
  std::vector<double> nll;
  std::vector<int64_t> am;
  nll.reserve(N - 1), am.reserve(N - 1);
  double seen = 0;  // keys seen by scored queries, for measured context
  for (const auto& w : windows) {
    const int64_t L = w.end - w.begin;
    at::Tensor t = all.narrow(0, w.begin, L);
    at::Tensor hidden = model.forward_hidden(t, parallel_attention(model, po));
    const int64_t k = w.end - w.first_target;  // targets scored by this window
    const int64_t h0 = w.first_target - 1 - w.begin;
    TokenScores sc = model.score(hidden.narrow(0, h0, k), all.narrow(0, w.first_target, k));
    const double* pn = sc.nll.data_ptr<double>();
    const int64_t* pa = sc.argmax.data_ptr<int64_t>();
    nll.insert(nll.end(), pn, pn + k);
    am.insert(am.end(), pa, pa + k);
    for (int64_t q = h0; q < h0 + k; ++q) seen += double(q + 1);
  }
  auto t1 = std::chrono::steady_clock::now();
  require(static_cast<int64_t>(nll.size()) == N - 1, "strided evaluation: internal error (targets)");
  EvalResult r;
  r.method = opt.visibility && !opt.visibility->all_full() ? "mask" : "dense";
  r.positions = "true";
  r.tokens = N;
  r.finalize_from(nll, am, std::vector<int64_t>(ids.begin() + 1, ids.end()));
  r.wall_s = std::chrono::duration<double>(t1 - t0).count();
  r.tokens_per_s = double(N) / r.wall_s;
  r.extra["context"] = opt.context;
  r.extra["stride"] = opt.stride;
  r.extra["windows"] = static_cast<int64_t>(windows.size());
  // Without a policy: the mean left context (keys, the query included) of the scored queries.
  if (!opt.visibility) r.extra["mean_window_context"] = seen / double(N - 1);
  return r;
}

}  // namespace headscope
