#include "eval/policy_eval.h"

#include "common/error.h"

namespace headscope {

EvalResult evaluate_policy_decode(const Model& model, const std::vector<int64_t>& ids,
                                  const Visibility& policy, const PolicyDecodeOptions& opt) {
  require(ids.size() >= 2, "need at least 2 tokens to evaluate next-token prediction, got " +
                               std::to_string(ids.size()));
  std::unique_ptr<Compressor> c = make_window_policy(policy);
  const int64_t N = static_cast<int64_t>(ids.size());
  // keys seen by query t+1 = entries left after step t's eviction + its own key; query 0 sees
  // exactly itself. Only queries 0 .. N-2 are run (the last token is only a target).
  double keys = 0;
  int64_t heads_total = 0, max_entries = 0;
  DecodeOptions d;
  d.positions = opt.positions;
  d.compressor = c.get();
  d.progress = opt.progress;
  d.trace_every = opt.trace_every;
  d.on_step = [&](const DecodeStep& s) {
    const KVCache& cache = *s.cache;
    if (heads_total == 0) heads_total = cache.layers() * cache.heads();
    const int64_t entries = cache.total_entries();
    max_entries = std::max(max_entries, entries);
    if (s.step == 0) keys += double(heads_total);   // query 0: itself, every head
    if (s.step + 1 <= N - 2) keys += double(entries + heads_total);
  };
  EvalResult r = evaluate_decode(model, ids, d);
  r.method = "window_policy";
  const double queries = double(N - 1);
  r.extra["measured_context"] = heads_total > 0 ? keys / double(heads_total) / queries : 0.0;
  r.extra["measured_context_queries"] = N - 1;
  r.extra["max_cache_entries"] = max_entries;
  return r;
}

}  // namespace headscope
