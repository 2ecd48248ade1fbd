// Prefill-time presses: kvpress's "ScorerPress" family, used by the prefill protocol
// (eval/prefill_eval.h). After the context of N tokens has been prefilled in parallel, each
// layer is compressed once: a press scores every cached key per KV head, and a selection keeps
// the budget n_kept = max(1, int(N * (1 - compression_ratio))) highest-scoring keys per KV head
// (kvpress's ScorerPress rule, truncation included), or, with AdaKV (compress/adakv.cpp),
// shares the layer's budget H_kv * n_kept across its KV heads by score.
//
// Conventions (those of kvpress 0.5, read from its source; each press file states its own rule):
//  - keys are cached rotated at their original text positions and keep them (no re-rotation);
//    the continuation is rotated at its true positions N, N+1, ...;
//  - scores are per KV head; presses that read attention compute it per query head and average
//    over the query heads that share a KV head (GQA groups); TOVA averages over all heads;
//  - kept slots stay in temporal order in the cache (kvpress gathers in top-k order; attention
//    does not depend on the order of the cached entries).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compress/registry.h"

namespace headscope {

// What a press sees of one layer right after the layer's parallel prefill attention.
struct PrefillLayerView {
  int64_t layer = 0;
  at::Tensor queries;  // [Hq, N, D] rotated at positions 0..N-1 (model dtype/device)
  at::Tensor keys;     // [Hkv, N, D] rotated at positions 0..N-1
  at::Tensor values;   // [Hkv, N, D]
  // Only for presses with needs_accumulated_attention(): [Hq, N] float32, for every key the sum
  // over the N context queries of the causal attention probability it received.
  at::Tensor accumulated_attention;
};

class PrefillPress {
 public:
  virtual ~PrefillPress() = default;
  virtual std::string name() const = 0;
  virtual nlohmann::json params() const = 0;
  virtual bool needs_accumulated_attention() const { return false; }
  // Throws Error (one line) when the press cannot run on a context of n tokens.
  virtual void check_context(int64_t n) const;
  // Scores [Hkv, N] float32 on the CPU: higher = keep.
  virtual at::Tensor score(const PrefillLayerView& view) const = 0;
  // Slots kept per KV head (ascending). Default: kvpress's ScorerPress rule, the n_kept
  // highest scores of every head.
  virtual std::vector<std::vector<int64_t>> select(const PrefillLayerView& view) const;

  double compression_ratio() const { return ratio_; }
  // kvpress's budget (kvpress.utils.compute_n_kept): max(1, int(n * (1 - compression_ratio))).
  int64_t budget(int64_t n) const;

 protected:
  explicit PrefillPress(double ratio) : ratio_(ratio) {}
  nlohmann::json base_params() const;

 private:
  double ratio_;
};

namespace detail {
// Indices of the k largest entries of each row of scores [H, N] (float32 CPU), every row sorted
// ascending. Ties: the larger index wins (torch.topk on CPU returns the later of equal entries
// first for the inputs kvpress produces; the parity tests pin this).
std::vector<std::vector<int64_t>> topk_rows(const at::Tensor& scores, int64_t k);
// Attention of the last w queries over all keys of a layer, as kvpress's
// SnapKVPress.compute_window_attention: per query head, keys of its KV head, softmax in float32
// over every key (causal inside the window), then the window's own columns dropped:
// [Hq, w, N - w] float32 CPU.
at::Tensor window_attention(const PrefillLayerView& view, int64_t w);
// Averages [Hq, ...] over the query heads of each KV head: [Hkv, ...].
at::Tensor mean_over_groups(const at::Tensor& per_query_head, int64_t kv_heads);
}  // namespace detail

// Presses by name, with typed options: compress/registry.h (make_prefill_press).

// Direct constructors (validate their options).
std::unique_ptr<PrefillPress> make_knorm_press(double ratio);
std::unique_ptr<PrefillPress> make_streaming_llm_press(double ratio, int64_t n_sink);
std::unique_ptr<PrefillPress> make_snapkv_press(double ratio, int64_t window_size, int64_t kernel_size);
std::unique_ptr<PrefillPress> make_tova_press(double ratio);
std::unique_ptr<PrefillPress> make_h2o_press(double ratio, double recent_share);
std::unique_ptr<PrefillPress> make_adakv_press(std::unique_ptr<PrefillPress> inner, double alpha_safeguard);

}  // namespace headscope
