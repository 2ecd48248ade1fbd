// A per-(layer, KV head) sink/window policy (a Visibility, e.g. from a policy file) evaluated
// token by token on the real KV cache (compress/window_policy.cpp evicts what the policy hides),
// with the measured context: the mean number of keys each query actually attended to, counted
// on the cache (entries of every (layer, KV head) after the previous step's eviction, plus the
// query's own key), averaged over layers, KV heads and the N-1 queries that were run. The mask
// engine's figure for the same queries is Visibility::measured_context(N - 1); the two are
// equal by construction of the eviction rule, and a test checks it.
#pragma once
#include <vector>

#include "eval/decode_eval.h"
#include "model/visibility.h"

namespace headscope {

struct PolicyDecodeOptions {
  PositionMode positions = PositionMode::True;
  bool progress = false;
  int64_t trace_every = 0;
};

// Returns evaluate_decode's result with extra fields measured_context (keys per query on the
// cache), measured_context_queries (N - 1) and max_cache_entries (the largest total number of
// cache entries after any step's eviction).
EvalResult evaluate_policy_decode(const Model& model, const std::vector<int64_t>& ids,
                                  const Visibility& policy, const PolicyDecodeOptions& opt = {});

}  // namespace headscope
