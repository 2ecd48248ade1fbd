// Per-head attention statistics of the Python original (AttentionAnalyzer), computed from
// attention probabilities one block of queries at a time.
//
// For a block of probabilities A[h, q, k] (queries and keys are positions in the forward's
// sequence; masked keys hold exactly 0), per head and per query:
//   entropy  -sum_k A log(A + 1e-10)            max      max_k A
//   sink     sum_{k < sink_size} A              recent   sum_{k >= floor(L (1 - recent_ratio))} A
//   local    sum_{q - local_window <= k <= q} A (L = key length of the chunk)
//   kl       sum_k A log((A + 1e-10) / (1/(q+1) + 1e-10))  (only queries with q >= 1)
//   rel[d]   A[q, q - d] for d < max_distance
// reduce_attention_block sums these over the block's queries on the probabilities' device
// (ATen) and returns the [H, ...] sums on the CPU; the per-chunk means (sums / queries, kl over
// the queries with >= 2 visible keys, global = max(0, 1 - sink - local)) are formed in float32
// like the original, whose accumulators were float32 tensors.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace headscope {

struct StatsOptions {
  int64_t sink_size = 4;
  int64_t local_window = 8;
  double recent_ratio = 0.1;
  int64_t max_distance = 64;  // length of the relative-position profile
};

// Column order of BlockSums::sums.
enum BlockSumColumn : int64_t {
  kSumEntropy = 0,
  kSumMax,
  kSumSink,
  kSumRecent,
  kSumLocal,
  kSumKL,
  kNumSumColumns
};

struct BlockSums {
  at::Tensor sums;         // [H, kNumSumColumns + max_distance] float32 on CPU
  int64_t queries = 0;     // queries in the block
  int64_t kl_queries = 0;  // queries with at least 2 visible keys (q >= 1)
};

// probs: [H, nq, nk] float32. Query i sits at sequence position q_begin + i, key column j at
// key_begin + j (contiguous). key_len: the chunk's key length L that defines "recent".
BlockSums reduce_attention_block(const at::Tensor& probs, int64_t q_begin, int64_t key_begin,
                                 int64_t key_len, const StatsOptions& opt);

// Final statistics of one head (the original's HeadStatistics; sink_ratio == sink).
struct HeadStatistics {
  int64_t layer = 0, head = 0;
  double mean_entropy = 0, std_entropy = 0, max_attention_mean = 0;
  double sink = 0, recent = 0, local = 0, global = 0;  // position_preference
  double uniformity = 0;                                // uniformity_score (KL to uniform)
  std::vector<double> relative_position_dist;
};

}  // namespace headscope
