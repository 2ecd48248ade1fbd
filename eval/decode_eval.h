// Token-by-token evaluation over a real KV cache (model/kv_cache.h), optionally compressed after
// every step by a Compressor (compress/compressor.h): the way the Python original measures
// PPL, next-token accuracy, TTFT, TPOT, throughput, cache size and peak memory.
//
// Step t (t = 0 .. N-2) feeds token t alone: every layer computes q/k/v for it, rotates q and k
// by the position convention, appends k/v to the cache, attends over the cache (each head over
// its own entries plus the new one), then the step's logits score token t+1; finally the
// compressor runs with next_pos = t+1. The timings are per step (compression included).
//
// GQA: the cache holds KV heads (sized, stored and evicted per KV head, so compressors rank
// and evict per KV head); the query heads of a group read their KV head's entries without
// copies. A model's native sliding window (Mistral) hides cached entries whose text position
// is W or more behind the query, on top of whatever the compressor kept.
//
// Position conventions (printed with every result):
//  - true:    q and k of token t are rotated at t, its position in the text; cached keys keep
//             their rotation. With window_policy this equals the parallel mask engine.
//  - cache:   q and k are rotated at position = the length of layer 0's cache before the token
//             is appended (its longest head), as transformers does when the Python original
//             hands it a compressed cache without position ids. Needed to reproduce its numbers.
//  - shifted: StreamingLLM's position shift: keys are cached un-rotated, and at every step each
//             cached key is rotated at its slot index and the query at its own slot index (the
//             head's cache length before the append), so positions never exceed the cache size.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "compress/compressor.h"
#include "eval/metrics.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace headscope {

enum class PositionMode { True, Cache, Shifted };
PositionMode parse_position_mode(const std::string& s);  // "true" | "cache" | "shifted"
const char* to_string(PositionMode m);

// Process memory now: resident set (VmRSS) and its high-water mark (VmHWM) from
// /proc/self/status, and, in CUDA builds on a CUDA device, the caching allocator's current and
// peak allocated bytes. Unknown values are -1.
struct MemoryUsage {
  int64_t rss_bytes = -1, rss_peak_bytes = -1;
  int64_t cuda_bytes = -1, cuda_peak_bytes = -1;
};
MemoryUsage memory_usage(at::Device device);
// Resets the peaks (VmHWM through /proc/self/clear_refs, the CUDA allocator's peak stats);
// best effort.
void reset_peak_memory(at::Device device);

struct DecodeStep {
  int64_t step = 0;     // t: token t was just fed and the cache compressed
  double nll = 0;       // of token t+1
  double seconds = 0;   // wall time of the step (compression included)
  const KVCache* cache = nullptr;
};

struct DecodeOptions {
  PositionMode positions = PositionMode::True;
  Compressor* compressor = nullptr;  // null: the dense cache (nothing evicted)
  bool progress = false;             // progress bar on stderr (terminal only)
  // Record {step, cache entries, cache bytes, RSS, CUDA bytes} every trace_every steps (and at
  // the last step) into extra["trace"]. 0: no trace.
  int64_t trace_every = 0;
  std::function<void(const DecodeStep&)> on_step;  // optional, called after every step
};

// ids: the token sequence (N >= 2). wall_s is the whole decode (prefill of the first token
// included), tokens_per_s = predictions / wall_s (the throughput). Returns PPL/accuracy over the N-1 predictions, with extra
// fields: decode, ttft_s, tpot_s (mean step time excluding the first), final_cache_size (the Python original's: longest head of the first compressed
// layer), final_cache_per_layer, cache_entries, cache_bytes (allocated at the end),
// cache_bytes_peak, rss_bytes, rss_peak_bytes (, cuda_peak_bytes), compressor.
EvalResult evaluate_decode(const Model& model, const std::vector<int64_t>& ids,
                           const DecodeOptions& opt = {});

}  // namespace headscope
