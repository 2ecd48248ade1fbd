#include "eval/parallel_eval.h"

#include <c10/core/InferenceMode.h>

#include <chrono>

#include "common/error.h"
#include "model/parallel_attention.h"

namespace headscope {

EvalResult evaluate_parallel(const Model& model, const std::vector<int64_t>& ids,
                             const ParallelEvalOptions& opt) {
  require(ids.size() >= 2, "need at least 2 tokens to evaluate next-token prediction, got " +
                               std::to_string(ids.size()));
  c10::InferenceMode guard;
  auto t0 = std::chrono::steady_clock::now();
  const int64_t N = static_cast<int64_t>(ids.size());
  at::Tensor t = at::tensor(ids, at::TensorOptions().dtype(at::kLong));
  ParallelAttentionOptions po;
  po.visibility = opt.visibility;
  po.query_block = opt.query_block;
  const int64_t blocks = (N + std::max<int64_t>(1, opt.query_block) - 1) / std::max<int64_t>(1, opt.query_block);
  const int64_t total = blocks * model.config().num_layers;
  if (opt.progress)
    po.on_block = [&](int64_t layer, int64_t query_end, int64_t) {
      const int64_t b = std::max<int64_t>(1, opt.query_block);
      opt.progress(layer * blocks + (query_end + b - 1) / b, total);
    };
  at::Tensor hidden = model.forward_hidden(t, parallel_attention(model, po));
  TokenScores sc = model.score(hidden.narrow(0, 0, N - 1), t.narrow(0, 1, N - 1));
  auto t1 = std::chrono::steady_clock::now();

  EvalResult r;
  r.method = opt.visibility && !opt.visibility->all_full() ? "mask" : "dense";
  r.positions = "true";
  r.tokens = N;
  std::vector<double> nll(sc.nll.data_ptr<double>(), sc.nll.data_ptr<double>() + (N - 1));
  std::vector<int64_t> am(sc.argmax.data_ptr<int64_t>(), sc.argmax.data_ptr<int64_t>() + (N - 1));
  std::vector<int64_t> tgt(ids.begin() + 1, ids.end());
  r.finalize_from(nll, am, tgt);
  r.wall_s = std::chrono::duration<double>(t1 - t0).count();
  r.tokens_per_s = double(N) / r.wall_s;
  if (opt.visibility) r.extra["measured_context"] = opt.visibility->measured_context(N);
  return r;
}

}  // namespace headscope
