// KV-cache compressors: one small interface, one file per method, each stating its exact rule
// and registering itself (compress/registry.h).
//
// The decoder (eval/decode_eval.h) calls compress(cache, next_pos) after every decoding step,
// once the step's token has been appended to every layer; next_pos is the text position of the
// token that comes next. Attention-aware methods (H2O-, TOVA-style) say so with
// needs_attention(): the decoder then hands them, before compress(), every layer's attention of
// the step's query (set_step_attention), over the same cache slots they are about to select from. A compressor decides, per layer and per head, which cache slots to
// keep (KVCache::keep); layers listed in skip_layers are never touched. The rules reproduce the
// Python original (kvcompress) exactly, including its choice of temporal order after selection.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/kv_cache.h"
#include "model/visibility.h"
#include "compress/registry.h"

namespace headscope {

class Compressor {
 public:
  virtual ~Compressor() = default;
  virtual std::string name() const = 0;
  // Parameters as JSON (printed with every result), skip_layers included.
  virtual nlohmann::json params() const = 0;
  // One-line human description, e.g. "streaming_llm(start_size=4, recent_size=508)".
  std::string describe() const;

  // Applies the rule to every layer not in skip_layers.
  void compress(KVCache& cache, int64_t next_pos);
  // Throws Error when the compressor cannot run on `cache` (skip layer out of range, a
  // visibility of another shape, ...). Called by the decoder before the first token.
  virtual void check(const KVCache& cache) const;

  // Attention-aware methods return true; compress() then requires the step's attention of every
  // layer it compresses.
  virtual bool needs_attention() const { return false; }
  // Layer `layer`'s attention of the step's query: probabilities [KV heads, group, L] (float32,
  // any device), over the layer's L cache slots after the step's append (0 where a slot is not
  // visible to the query, e.g. past a shorter head's length).
  void set_step_attention(int64_t layer, at::Tensor probs);

  const std::vector<int64_t>& skip_layers() const { return skip_layers_; }
  void set_skip_layers(std::vector<int64_t> layers);
  bool skipped(int64_t layer) const;

 protected:
  virtual void compress_layer(KVCache& cache, int64_t layer, int64_t next_pos) = 0;
  nlohmann::json base_params() const;
  // The step's attention of `layer` as [KV heads, group, L] float32 on CPU; throws Error when the
  // decoder did not provide it for this step or its shape does not match the cache.
  at::Tensor step_attention(const KVCache& cache, int64_t layer) const;

 private:
  std::vector<int64_t> skip_layers_;
  std::vector<at::Tensor> step_attention_;  // per layer; cleared by compress()
};

namespace detail {
// Slots kept by the sink + recent rule on a head of n entries: [0, start) U [n - recent, n)
// when n > start + recent, else all of them.
std::vector<int64_t> sink_recent_slots(int64_t n, int64_t start, int64_t recent);
// The k slots among [0, n) with the lowest (low = true) or highest norms, returned in temporal
// (ascending slot) order. Ties are broken by slot index (the earlier slot wins).
std::vector<int64_t> select_by_norm(const double* norms, int64_t n, int64_t k, bool low);
}  // namespace detail

// Methods by name, with typed options: compress/registry.h (make_compressor).

// Direct constructors (validate their parameters, throw Error).
std::unique_ptr<Compressor> make_streaming_llm(int64_t start_size, int64_t recent_size);
std::unique_ptr<Compressor> make_recent_only(int64_t window);
std::unique_ptr<Compressor> make_l2(double keep_ratio, int64_t prune_after, const std::string& mode);
std::unique_ptr<Compressor> make_fix_size_l2(int64_t fix_kv_size, double keep_ratio,
                                             const std::string& strategy, uint64_t seed);
std::unique_ptr<Compressor> make_tova(int64_t cache_size, const std::string& granularity);
// Not in the registry (not a --method: eval --policy FILE builds it). Owns its copy of the
// visibility (a few bytes per head), so a temporary argument cannot dangle.
std::unique_ptr<Compressor> make_window_policy(Visibility visibility);

}  // namespace headscope
