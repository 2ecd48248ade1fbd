// Per-(layer, KV head) window allocation under a budget: chooses each head's (sink, window)
// from a candidate grid to minimise the calibration text's NLL subject to a mean measured
// context (keys visible per query, averaged over layers, KV heads and queries, sinks
// included: Visibility::measured_context, the figure ablate reports) or a KV-memory budget.
//
// Method "lagrangian" (the default):
//  1. profile: for every head h and candidate c, the calibration NLL with only h set to c
//     (every other head full), minus the dense NLL: dNLL[h][c] (mask engine, one forward each;
//     candidates equal to full context on this text are skipped, dNLL = 0);
//  2. price: each head takes argmin_c dNLL[h][c] + lambda * cost[c]; lambda is bisected to the
//     smallest price whose mean cost fits the budget; the slack left is then filled greedily
//     (best predicted dNLL saving per unit of cost first);
//  3. refine: pair swaps (one head up a step, one head down, budget kept) ranked by their
//     predicted change, tried in a seeded order and accepted only if the true joint NLL of the
//     whole policy (one forward) improves. Deterministic given the seed.
// Method "fastgen" (FastGen's threshold rule, the baseline): per head the cheapest candidate
// whose visible keys hold >= `recover` of the head's dense attention mass on the calibration
// text (mean over queries); no budget. For GQA models the query heads of a KV group must all
// recover it (the most demanding head decides).
//
// Costs: budget kind "context": a candidate's mean visible keys per query over the calibration
// text (the budget is a mean over heads); "bytes": the KV bytes the head holds in the real
// cache after the last calibration token (entries x 2 x head_dim x element size), the budget
// a total over heads. A full-context head's cost grows with the text length: a budget met on
// the calibration text is a bound for texts of that length, not for longer ones.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.h"
#include "model/visibility.h"

namespace headscope {

struct AllocatorOptions {
  std::vector<int64_t> sinks = {0, 4};
  std::vector<int64_t> windows = {0, 8, 16, 32, 64, 128, 256, 512, -1};
  std::string method = "lagrangian";  // lagrangian | fastgen
  std::string budget_kind = "context";  // context | bytes
  double budget = 0;                  // keys per query (context) or total bytes (bytes)
  double recover = 0.95;              // fastgen
  int64_t refine = 8;                 // true-NLL evaluations spent on swaps (lagrangian)
  uint64_t seed = 0;
  int64_t query_block = 256;
  std::FILE* log = nullptr;           // progress lines (null: quiet)
};

// The distinct candidates of a grid: dead (window 0) once, full (-1) once, every sink with
// every positive window. Throws Error on an empty grid or invalid values.
std::vector<HeadWindow> candidate_grid(const std::vector<int64_t>& sinks,
                                       const std::vector<int64_t>& windows);

// Cost of one head with candidate w on a text of T tokens: mean visible keys per query
// ("context") or bytes held after the last token ("bytes", bytes_per_entry each).
double candidate_cost(const HeadWindow& w, int64_t T, const std::string& kind,
                      double bytes_per_entry);

// The profile of step 1 (exposed so a benchmark can allocate several budgets from one
// profile): dnll[head][candidate], head = layer * kv_heads + kv_head.
struct AllocationProfile {
  std::vector<HeadWindow> candidates;
  std::vector<std::vector<double>> dnll;
  double dense_nll = 0;
  int64_t tokens = 0, layers = 0, kv_heads = 0;
  double seconds = 0;
  int64_t forwards = 0;
};
AllocationProfile profile_heads(const Model& model, const std::vector<int64_t>& ids,
                                const AllocatorOptions& opt);

struct Allocation {
  Visibility policy;
  double cost = 0;              // mean cost over heads (context) or total (bytes)
  double measured_context = 0;  // keys per query on the calibration text
  double predicted_dnll = 0;    // sum of profiled dNLL of the chosen candidates
  double nll = 0, dense_nll = 0;  // true joint calibration NLL (lagrangian; fastgen: measured)
  nlohmann::json report = nlohmann::json::object();
};

// Step 2 alone (pure): per head the candidate minimising dnll + lambda * cost with lambda
// bisected to the smallest price whose summed cost fits total_budget, then the slack filled
// greedily. Returns the candidate index per head; *lambda_out gets the price.
std::vector<int64_t> select_under_budget(const std::vector<std::vector<double>>& dnll,
                                         const std::vector<double>& cost, double total_budget,
                                         double* lambda_out = nullptr, int64_t* fills_out = nullptr);

// Steps 2-3 on a given profile.
Allocation allocate_from_profile(const Model& model, const std::vector<int64_t>& ids,
                                 const AllocationProfile& prof, const AllocatorOptions& opt);
// fastgen: one dense forward with an attention observer.
Allocation allocate_fastgen(const Model& model, const std::vector<int64_t>& ids,
                            const AllocatorOptions& opt);
// Everything: validates options (budget below the cheapest candidate, empty grid, ... are
// one-line Errors), profiles and allocates.
Allocation allocate(const Model& model, const std::vector<int64_t>& ids,
                    const AllocatorOptions& opt);

// Bytes one cache entry (key + value of one KV head) takes in the model's dtype.
double kv_bytes_per_entry(const Model& model);
// Number of KV heads of the model (the policy's heads).
int64_t model_kv_heads(const Model& model);

}  // namespace headscope
