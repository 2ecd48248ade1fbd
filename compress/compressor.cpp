#include "compress/compressor.h"

#include <algorithm>

#include "common/error.h"

namespace headscope {

std::string Compressor::describe() const {
  std::string s = name() + "(";
  bool first = true;
  const nlohmann::json p = params();
  for (auto& [k, v] : p.items()) {
    if (k == "method") continue;
    s += (first ? "" : ", ") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    first = false;
  }
  return s + ")";
}

void Compressor::compress(KVCache& cache, int64_t next_pos) {
  for (int64_t l = 0; l < cache.layers(); ++l)
    if (!skipped(l)) compress_layer(cache, l, next_pos);
  for (auto& a : step_attention_) a = at::Tensor();  // one step's attention serves one step
}

void Compressor::set_step_attention(int64_t layer, at::Tensor probs) {
  require(layer >= 0, "set_step_attention: negative layer");
  if (static_cast<size_t>(layer) >= step_attention_.size()) step_attention_.resize(static_cast<size_t>(layer) + 1);
  step_attention_[static_cast<size_t>(layer)] = std::move(probs);
}

at::Tensor Compressor::step_attention(const KVCache& cache, int64_t layer) const {
  const bool have = static_cast<size_t>(layer) < step_attention_.size() &&
                    step_attention_[static_cast<size_t>(layer)].defined();
  if (!have)
    throw Error(name() + " needs the step's attention of layer " + std::to_string(layer) +
                " (an attention-aware method runs only in the token-by-token decoder)");
  at::Tensor a = step_attention_[static_cast<size_t>(layer)];
  if (a.dim() != 3 || a.size(0) != cache.heads() || a.size(-1) != cache.max_length(layer))
    throw Error(name() + ": the step's attention of layer " + std::to_string(layer) + " has shape " +
                std::to_string(a.dim()) + "-d, not [KV heads=" + std::to_string(cache.heads()) +
                ", group, L=" + std::to_string(cache.max_length(layer)) + "]");
  return a.to(at::kCPU, at::kFloat).contiguous();
}

void Compressor::check(const KVCache& cache) const {
  for (int64_t l : skip_layers_)
    require(l < cache.layers(), "--skip-layers: layer " + std::to_string(l) +
                                    " does not exist (the model has " +
                                    std::to_string(cache.layers()) + " layers)");
}

void Compressor::set_skip_layers(std::vector<int64_t> layers) {
  for (int64_t l : layers)
    require(l >= 0, "--skip-layers: layer indices must be >= 0, got " + std::to_string(l));
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  skip_layers_ = std::move(layers);
}

bool Compressor::skipped(int64_t layer) const {
  return std::binary_search(skip_layers_.begin(), skip_layers_.end(), layer);
}

nlohmann::json Compressor::base_params() const {
  return {{"method", name()}, {"skip_layers", skip_layers_}};
}

namespace detail {
std::vector<int64_t> sink_recent_slots(int64_t n, int64_t start, int64_t recent) {
  std::vector<int64_t> s;
  if (n <= start + recent) {
    s.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) s[i] = i;
    return s;
  }
  for (int64_t i = 0; i < start; ++i) s.push_back(i);
  for (int64_t i = n - recent; i < n; ++i) s.push_back(i);
  return s;
}

std::vector<int64_t> select_by_norm(const double* norms, int64_t n, int64_t k, bool low) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  k = std::max<int64_t>(0, std::min(k, n));
  auto cmp = [&](int64_t a, int64_t b) {
    if (norms[a] != norms[b]) return low ? norms[a] < norms[b] : norms[a] > norms[b];
    return a < b;
  };
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), cmp);
  idx.resize(static_cast<size_t>(k));
  std::sort(idx.begin(), idx.end());
  return idx;
}
}  // namespace detail

}  // namespace headscope
