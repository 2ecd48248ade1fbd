#include "model/kv_cache.h"

#include "common/error.h"
#include "model/model.h"

namespace headscope {

KVCache::KVCache(int64_t layers, int64_t heads, int64_t head_dim, at::Device device,
                 at::ScalarType dtype, bool unrotated_keys, int64_t min_capacity)
    : layers_(layers),
      heads_(heads),
      head_dim_(head_dim),
      min_capacity_(std::max<int64_t>(1, min_capacity)),
      device_(device),
      dtype_(dtype),
      unrotated_keys_(unrotated_keys) {
  require(layers > 0 && heads > 0 && head_dim > 0, "KV cache: layers, heads and head size must be positive");
  data_.resize(static_cast<size_t>(layers));
  for (auto& L : data_) {
    L.len.assign(static_cast<size_t>(heads), 0);
    L.pos.assign(static_cast<size_t>(heads), {});
    reallocate(L, min_capacity_);
  }
}

KVCache KVCache::for_model(const Model& model, bool unrotated_keys) {
  const auto& c = model.config();
  return KVCache(c.num_layers, c.num_kv_heads, c.head_dim(), model.device(), model.dtype(),
                 unrotated_keys);
}

void KVCache::check_layer(int64_t layer) const {
  if (layer < 0 || layer >= layers_)
    throw Error("KV cache: layer " + std::to_string(layer) + " out of range [0, " +
                std::to_string(layers_) + ")");
}

int64_t KVCache::length(int64_t layer, int64_t head) const {
  check_layer(layer);
  if (head < 0 || head >= heads_) throw Error("KV cache: head " + std::to_string(head) + " out of range");
  return data_[layer].len[head];
}

int64_t KVCache::max_length(int64_t layer) const {
  check_layer(layer);
  const auto& l = data_[layer].len;
  return *std::max_element(l.begin(), l.end());
}

int64_t KVCache::min_length(int64_t layer) const {
  check_layer(layer);
  const auto& l = data_[layer].len;
  return *std::min_element(l.begin(), l.end());
}

int64_t KVCache::capacity(int64_t layer) const {
  check_layer(layer);
  return data_[layer].k.size(1);
}

const std::vector<int64_t>& KVCache::positions(int64_t layer, int64_t head) const {
  check_layer(layer);
  if (head < 0 || head >= heads_) throw Error("KV cache: head " + std::to_string(head) + " out of range");
  return data_[layer].pos[head];
}

at::Tensor KVCache::lengths_tensor(int64_t layer) const {
  check_layer(layer);
  return at::tensor(data_[layer].len, at::TensorOptions().dtype(at::kLong));
}

// Storage is zero-filled, never left uninitialised: slots past a head's length are masked out of
// attention, but their values still meet a zero probability in probs @ V, and 0 * NaN is NaN.
void KVCache::reallocate(Layer& L, int64_t new_capacity) {
  auto opt = at::TensorOptions().dtype(dtype_).device(device_);
  at::Tensor k = at::zeros({heads_, new_capacity, head_dim_}, opt);
  at::Tensor v = at::zeros({heads_, new_capacity, head_dim_}, opt);
  if (L.k.defined()) {
    const int64_t n = std::min(new_capacity, *std::max_element(L.len.begin(), L.len.end()));
    if (n > 0) {
      k.narrow(1, 0, n).copy_(L.k.narrow(1, L.start, n));
      v.narrow(1, 0, n).copy_(L.v.narrow(1, L.start, n));
    }
  }
  L.k = k;
  L.v = v;
  L.start = 0;
}

// Room for `needed` slots after L.start. When the contents have slid towards the end of the
// storage (see keep()), they move back to the front at the same capacity as long as they fill at
// most 3/4 of it; otherwise the capacity doubles. A sliding window of n entries in a capacity of
// 2n therefore moves its contents once every n steps.
void KVCache::reserve(Layer& L, int64_t needed) {
  int64_t cap = L.k.size(1);
  if (L.start + needed <= cap) return;
  if (needed * 4 <= cap * 3) {
    reallocate(L, cap);
    return;
  }
  while (cap < needed) cap *= 2;
  reallocate(L, cap);
}

void KVCache::append(int64_t layer, const at::Tensor& k, const at::Tensor& v, int64_t position) {
  check_layer(layer);
  require(k.dim() == 3 && k.size(0) == heads_ && k.size(1) == 1 && k.size(2) == head_dim_ &&
              v.sizes() == k.sizes(),
          "KV cache: append expects key and value of shape [heads, 1, head_dim]");
  Layer& L = data_[layer];
  const int64_t lo = *std::min_element(L.len.begin(), L.len.end());
  const int64_t hi = *std::max_element(L.len.begin(), L.len.end());
  reserve(L, hi + 1);
  if (lo == hi) {
    L.k.narrow(1, L.start + hi, 1).copy_(k);
    L.v.narrow(1, L.start + hi, 1).copy_(v);
  } else {
    // Ragged heads: each head writes at its own length.
    auto lopt = at::TensorOptions().dtype(at::kLong);
    at::Tensor h = at::arange(heads_, lopt).to(device_);
    at::Tensor s = (at::tensor(L.len, lopt) + L.start).to(device_);
    L.k.index_put_({h, s}, k.squeeze(1).to(dtype_));
    L.v.index_put_({h, s}, v.squeeze(1).to(dtype_));
  }
  for (int64_t h = 0; h < heads_; ++h) {
    L.len[h] += 1;
    L.pos[h].push_back(position);
  }
}

at::Tensor KVCache::keys(int64_t layer) const {
  check_layer(layer);
  return data_[layer].k.narrow(1, data_[layer].start, max_length(layer));
}

at::Tensor KVCache::values(int64_t layer) const {
  check_layer(layer);
  return data_[layer].v.narrow(1, data_[layer].start, max_length(layer));
}

at::Tensor KVCache::key_norms(int64_t layer) const {
  at::Tensor k = keys(layer);
  return k.to(at::kDouble).norm(2, {-1}).to(at::kCPU).contiguous();
}

void KVCache::keep(int64_t layer, const std::vector<std::vector<int64_t>>& keep) {
  check_layer(layer);
  require(static_cast<int64_t>(keep.size()) == heads_,
          "KV cache: keep() needs one slot list per head");
  Layer& L = data_[layer];
  bool identity = true, same = true;
  int64_t new_max = 0;
  for (int64_t h = 0; h < heads_; ++h) {
    const auto& s = keep[h];
    for (size_t i = 0; i < s.size(); ++i) {
      require(s[i] >= 0 && s[i] < L.len[h] && (i == 0 || s[i] > s[i - 1]),
              "KV cache: keep() slot lists must be strictly increasing valid slots");
    }
    if (static_cast<int64_t>(s.size()) != L.len[h]) identity = false;  // increasing + same size
    if (s != keep[0]) same = false;
    new_max = std::max<int64_t>(new_max, static_cast<int64_t>(s.size()));
  }
  if (identity) return;

  int64_t prefix = 0, gap = 0;
  if (same && sliding_eviction(keep[0], &prefix, &gap)) {
    slide(L, prefix, gap);
  } else {
    compact(L, keep, same, new_max);
  }
  for (int64_t h = 0; h < heads_; ++h) {
    std::vector<int64_t> np;
    np.reserve(keep[h].size());
    for (int64_t s : keep[h]) np.push_back(L.pos[h][s]);
    L.pos[h] = std::move(np);
    L.len[h] = static_cast<int64_t>(keep[h].size());
  }
  const int64_t cap = L.k.size(1);
  if (new_max * 4 <= cap && cap > min_capacity_) {
    // Shrink: the evicted memory is released (the old tensors are dropped).
    reallocate(L, std::max(min_capacity_, 2 * new_max));
  }
}

// True when `slots` is a prefix [0, p) followed by one contiguous run [p + e, p + e + m) with
// e > 0: the shape of every sink + recent (or recent-only) eviction.
bool KVCache::sliding_eviction(const std::vector<int64_t>& slots, int64_t* prefix, int64_t* gap) {
  size_t p = 0;
  while (p < slots.size() && slots[p] == static_cast<int64_t>(p)) ++p;
  if (p == slots.size()) return false;  // only a tail is dropped: handled by compact
  for (size_t i = p + 1; i < slots.size(); ++i)
    if (slots[i] != slots[i - 1] + 1) return false;
  *prefix = static_cast<int64_t>(p);
  *gap = slots[p] - static_cast<int64_t>(p);
  return true;
}

// Evicts slots [p, p + e) by moving the p prefix slots e places up and starting the layer's
// view e slots later: p slots are copied instead of the whole kept run (StreamingLLM keeps 4 sink
// slots and slides past 508 others), and no index tensor travels to the device.
void KVCache::slide(Layer& L, int64_t p, int64_t e) {
  if (p > 0) {
    at::Tensor k_src = L.k.narrow(1, L.start, p), v_src = L.v.narrow(1, L.start, p);
    if (e < p) {  // source and destination overlap
      k_src = k_src.clone();
      v_src = v_src.clone();
    }
    L.k.narrow(1, L.start + e, p).copy_(k_src);
    L.v.narrow(1, L.start + e, p).copy_(v_src);
  }
  L.start += e;
}

// Gathers every head's kept slots to the front of the storage.
void KVCache::compact(Layer& L, const std::vector<std::vector<int64_t>>& keep, bool same,
                      int64_t new_max) {
  const int64_t old_max = *std::max_element(L.len.begin(), L.len.end());
  auto lopt = at::TensorOptions().dtype(at::kLong);
  at::Tensor nk, nv;
  at::Tensor k = L.k.narrow(1, L.start, old_max), v = L.v.narrow(1, L.start, old_max);
  if (same) {
    at::Tensor idx = at::tensor(keep[0], lopt).to(device_);
    nk = k.index_select(1, idx);
    nv = v.index_select(1, idx);
  } else {
    std::vector<int64_t> flat(static_cast<size_t>(heads_ * new_max), 0);
    for (int64_t h = 0; h < heads_; ++h)
      std::copy(keep[h].begin(), keep[h].end(), flat.begin() + h * new_max);
    at::Tensor idx = at::tensor(flat, lopt).view({heads_, new_max, 1}).to(device_);
    idx = idx.expand({heads_, new_max, head_dim_});
    nk = k.gather(1, idx);
    nv = v.gather(1, idx);
  }
  if (new_max > 0) {
    L.k.narrow(1, 0, new_max).copy_(nk);
    L.v.narrow(1, 0, new_max).copy_(nv);
  }
  L.start = 0;
}

void KVCache::keep_all_heads(int64_t layer, const std::vector<int64_t>& slots) {
  keep(layer, std::vector<std::vector<int64_t>>(static_cast<size_t>(heads_), slots));
}

int64_t KVCache::allocated_bytes() const {
  int64_t b = 0;
  for (const auto& L : data_) b += (L.k.numel() + L.v.numel()) * static_cast<int64_t>(L.k.element_size());
  return b;
}

int64_t KVCache::used_bytes() const {
  return total_entries() * 2 * head_dim_ * static_cast<int64_t>(at::elementSize(dtype_));
}

int64_t KVCache::total_entries() const {
  int64_t n = 0;
  for (const auto& L : data_)
    for (int64_t x : L.len) n += x;
  return n;
}

}  // namespace headscope
