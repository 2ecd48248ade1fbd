// The prefill compression protocol (kvpress's): the first N tokens of the text (the context) are
// prefilled in one parallel forward with full causal attention; right after each layer's
// attention the layer's KV cache is compressed once (a PrefillPress to a target compression
// ratio, per KV head), or, for the per-step compressors of compress/compressor.h, the whole cache
// is compressed once after the prefill with next_pos = N (their own size options). Then tokens
// N, N+1, ..., M-1 are fed one at a time over the compressed cache, which is not compressed
// again (it grows by one entry per head per step).
//
// Positions: every token is rotated at its position in the text (the `true` convention); cached
// keys keep the rotation of their original position (kvpress's convention: its presses do not
// re-rotate; KeyRerotationPress would).
//
// Scored tokens: the M - N tokens after the context. The first, token N, is predicted by the
// prefill's last position (it does not depend on the compression); every later one by a decode
// step over the compressed cache. PPL = exp(mean NLL over those M - N predictions).
// GQA: the cache holds KV heads; each query head attends over the entries of its KV head.
#pragma once
#include <vector>

#include "compress/compressor.h"
#include "compress/prefill_press.h"
#include "eval/metrics.h"
#include "model/model.h"

namespace headscope {

struct PrefillEvalOptions {
  int64_t context_tokens = 0;            // N: 1 <= N < ids.size()
  const PrefillPress* press = nullptr;   // compress each layer right after its prefill, or
  Compressor* compressor = nullptr;      // compress once after the prefill (at most one of two)
  bool progress = false;
};

// Result fields: method, positions "true", tokens = M, mean_nll/ppl/accuracy over the M - N
// predictions, wall_s (prefill + scoring), tokens_per_s (scoring), and extra: protocol
// "prefill", context_tokens, predictions, prefill_s (prefill + compression), scoring_s,
// scoring_tok_s, kept_entries / context_entries (summed over layers and KV heads, right after
// the compression), achieved_compression_ratio, kept_per_layer, cache_entries at the end,
// rss_peak_bytes, compressor (params).
EvalResult evaluate_prefill(const Model& model, const std::vector<int64_t>& ids,
                            const PrefillEvalOptions& opt);

}  // namespace headscope
