// A real key/value cache for token-by-token decoding, with ragged per-head contents.
//
// Storage: per layer one K and one V tensor [H, capacity, Dh] on the model's device. Each head
// h of a layer has its own length (its first length(l, h) slots are valid), and each slot
// remembers the absolute text position of its token (kept on the CPU). Heads may therefore keep
// different tokens (per-head eviction) and different numbers of tokens.
//
// Eviction: keep(l, per-head slot lists) keeps every head's kept slots, in the order given
// (ascending = temporal order), as its slots 0, 1, ... A layer's valid slots start at an offset
// in the storage: when every head keeps the same prefix + contiguous run (sink + recent,
// recent-only), the prefix moves up over the evicted slots and the offset advances, so a
// sliding window copies its few sink slots per step instead of the whole window; any other
// selection is gathered to the front. Capacity grows geometrically (x2) on append and shrinks
// (re-allocates to 2x the longest head) once the contents fall below a quarter of it, so a
// compressed cache really holds less memory: allocated_bytes() reports it.
//
// Keys are stored as the caller gives them: rotated (the `true`/`cache` position conventions)
// or un-rotated (`shifted`: the decoder re-rotates them by slot index at every step). The flag
// unrotated_keys() only records which one it is; L2 norms do not depend on it.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace headscope {

class Model;

class KVCache {
 public:
  KVCache(int64_t layers, int64_t heads, int64_t head_dim, at::Device device,
          at::ScalarType dtype, bool unrotated_keys = false, int64_t min_capacity = 16);
  // A cache shaped for `model`: its layers, KV heads (GQA: fewer than query heads), head size,
  // device and dtype.
  static KVCache for_model(const Model& model, bool unrotated_keys = false);

  int64_t layers() const { return layers_; }
  int64_t heads() const { return heads_; }
  int64_t head_dim() const { return head_dim_; }
  bool unrotated_keys() const { return unrotated_keys_; }
  at::Device device() const { return device_; }

  int64_t length(int64_t layer, int64_t head) const;
  int64_t max_length(int64_t layer) const;  // longest head of the layer
  int64_t min_length(int64_t layer) const;
  bool uniform(int64_t layer) const { return max_length(layer) == min_length(layer); }
  int64_t capacity(int64_t layer) const;
  // Absolute text position of every valid slot of (layer, head), in slot order.
  const std::vector<int64_t>& positions(int64_t layer, int64_t head) const;
  // Per-head lengths of a layer as an int64 CPU tensor [H].
  at::Tensor lengths_tensor(int64_t layer) const;

  // Appends one token's key and value (each [H, 1, Dh]) to every head of `layer`, at slot
  // length(layer, h), recording `position` as its text position.
  void append(int64_t layer, const at::Tensor& k, const at::Tensor& v, int64_t position);

  // Views [H, max_length(layer), Dh]; in head h only the first length(layer, h) slots are valid.
  at::Tensor keys(int64_t layer) const;
  at::Tensor values(int64_t layer) const;
  // L2 norm of every cached key vector, float64 on CPU, [H, max_length(layer)] (invalid slots
  // hold garbage). Computed on the device in float64 from the stored keys, so that nearly
  // equal norms are ordered as exactly as the stored keys allow.
  at::Tensor key_norms(int64_t layer) const;

  // Keeps, for every head h, exactly the slots keep[h] (strictly increasing, each < length):
  // they move to the front in that order; everything else is evicted.
  void keep(int64_t layer, const std::vector<std::vector<int64_t>>& keep);
  // Same slot list for every head.
  void keep_all_heads(int64_t layer, const std::vector<int64_t>& slots);

  // Bytes of K and V storage currently allocated (capacity) and holding valid entries.
  int64_t allocated_bytes() const;
  int64_t used_bytes() const;
  // Sum over layers and heads of the number of cached entries.
  int64_t total_entries() const;

 private:
  struct Layer {
    at::Tensor k, v;  // [H, capacity, Dh]; valid slots start at `start`
    int64_t start = 0;
    std::vector<int64_t> len;                 // per head
    std::vector<std::vector<int64_t>> pos;    // per head, per slot
  };
  void check_layer(int64_t layer) const;
  void reserve(Layer& L, int64_t needed);
  void reallocate(Layer& L, int64_t new_capacity);
  static bool sliding_eviction(const std::vector<int64_t>& slots, int64_t* prefix, int64_t* gap);
  void slide(Layer& L, int64_t prefix, int64_t gap);
  void compact(Layer& L, const std::vector<std::vector<int64_t>>& keep, bool same, int64_t new_max);

  int64_t layers_, heads_, head_dim_, min_capacity_;
  at::Device device_;
  at::ScalarType dtype_;
  bool unrotated_keys_;
  std::vector<Layer> data_;
};

}  // namespace headscope
