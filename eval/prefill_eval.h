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

struct PrefillResult {
  // method, positions ("true"), tokens = M, mean_nll / ppl / accuracy and nll over the M - N
  // predictions, wall_s (prefill + scoring), tokens_per_s (scoring steps / scoring_s)
  EvalResult eval;
  int64_t context_tokens = 0, predictions = 0;
  double prefill_s = 0;   // parallel prefill + compression + the first prediction
  double scoring_s = 0;   // the M - N - 1 decode steps
  int64_t context_entries = 0;  // N * layers * KV heads
  int64_t kept_entries = 0;     // right after the compression, summed over layers and KV heads
  std::vector<int64_t> kept_per_layer;
  int64_t cache_entries = 0, cache_bytes = 0;  // at the end
  int64_t rss_peak_bytes = -1, cuda_peak_bytes = -1;
  nlohmann::json compressor;    // params of the press / compressor, {"method": "dense"} if none
  double achieved_compression_ratio() const {
    return context_entries > 0 ? 1.0 - double(kept_entries) / double(context_entries) : 0.0;
  }
  // Every field, "protocol": "prefill" included (and the per-token NLLs if with_nll).
  nlohmann::json to_json(bool with_nll = false) const;
};

PrefillResult evaluate_prefill(const Model& model, const std::vector<int64_t>& ids,
                               const PrefillEvalOptions& opt);

}  // namespace headscope
