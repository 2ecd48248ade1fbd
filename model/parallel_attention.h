// Parallel (whole-sequence) attention with per-(layer, head) visibility, applied in query
// blocks so memory stays linear in sequence length for windowed heads: each block gathers only
// the keys some head of the layer can see (sink prefix + window range), builds the block's
// [H, nq, nk] mask from the shared Visibility rule, and optionally hands the probabilities to an
// observer.
#pragma once
#include <ATen/ATen.h>

#include <functional>

#include "model/attention_observer.h"
#include "model/model.h"
#include "model/visibility.h"

namespace headscope {

// GQA: q has H query heads, k/v KV heads; every KV head is shared by its H / KV query heads
// without copies (queries of a group are stacked as rows). The visibility has one entry per
// query head (research mode) or per KV head (what a real cache can do; each query head
// inherits its KV head's entry). A model's native sliding window applies on top of it.
// Observers see per-query-head probabilities [H, nq, nk].
struct ParallelAttentionOptions {
  const Visibility* visibility = nullptr;  // null: full causal
  at::Tensor positions;                    // [T] int64 rotary positions; undefined: 0..T-1
  AttentionObserver* observer = nullptr;
  int64_t query_block = 256;
  // Called after each query block of each layer (progress of long evaluations); may be empty.
  std::function<void(int64_t layer, int64_t query_end, int64_t tokens)> on_block;
};

// Returns an AttentionFn for Model::forward_hidden. `opt` must outlive its use.
AttentionFn parallel_attention(const Model& model, const ParallelAttentionOptions& opt);

// Softmax over the last dimension of a float32 tensor, in place on CPU (fast path for
// Debian's libtorch), at::softmax elsewhere. Returns the probabilities (x itself on CPU).
at::Tensor softmax_lastdim_(at::Tensor& x);

// q [H, nq, D]; k, v [KV, nk, D] with KV dividing H (GQA; KV == H for multi-head).
// Scaled dot-product attention with an additive float32 bias [H or 1, nq, nk] (0 visible,
// -inf hidden); softmax in float32. If probs_out is non-null it receives the probabilities.
at::Tensor biased_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& bias, at::Tensor* probs_out = nullptr);

// Scaled dot-product attention of q [H,nq,D] over k,v [H,nk,D] with a boolean mask
// [H or 1, nq, nk] (true = visible). Softmax in float32, as transformers' eager attention.
// If probs_out is non-null it receives the float32 probabilities.
at::Tensor masked_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& mask, at::Tensor* probs_out = nullptr);

}  // namespace headscope
