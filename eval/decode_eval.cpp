#include "eval/decode_eval.h"

#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <tuple>

#if defined(HEADSCOPE_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "common/error.h"
#include "model/parallel_attention.h"
#include "common/progress.h"

namespace headscope {

PositionMode parse_position_mode(const std::string& s) {
  if (s == "true") return PositionMode::True;
  if (s == "cache") return PositionMode::Cache;
  if (s == "shifted") return PositionMode::Shifted;
  throw Error("--positions must be true, cache or shifted, got '" + s + "'");
}

const char* to_string(PositionMode m) {
  switch (m) {
    case PositionMode::True: return "true";
    case PositionMode::Cache: return "cache";
    case PositionMode::Shifted: return "shifted";
  }
  return "?";
}

MemoryUsage memory_usage(at::Device device) {
  MemoryUsage m;
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    auto kb = [&](const char* key) -> int64_t {
      std::istringstream is(line.substr(std::string(key).size()));
      int64_t v = -1;
      is >> v;
      return v < 0 ? -1 : v * 1024;
    };
    if (line.rfind("VmRSS:", 0) == 0) m.rss_bytes = kb("VmRSS:");
    if (line.rfind("VmHWM:", 0) == 0) m.rss_peak_bytes = kb("VmHWM:");
  }
#if defined(HEADSCOPE_CUDA)
  if (device.is_cuda()) {
    auto st = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    m.cuda_bytes = st.allocated_bytes[0].current;
    m.cuda_peak_bytes = st.allocated_bytes[0].peak;
  }
#else
  (void)device;
#endif
  return m;
}

void reset_peak_memory(at::Device device) {
  {
    std::ofstream f("/proc/self/clear_refs");
    if (f) f << "5";  // resets VmHWM to the current RSS (Linux >= 4.0)
  }
#if defined(HEADSCOPE_CUDA)
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#else
  (void)device;
#endif
}

namespace {

// cos/sin tables of the model's rotary module (model/rotary.h) for positions [0, P), so rotating
// by a table row equals model.rotate at that position.
class RotaryTable {
 public:
  RotaryTable(const Model& m, int64_t P) : rot_(m.rotary()) {
    at::Tensor pos = at::arange(std::max<int64_t>(P, 1), at::TensorOptions().dtype(at::kLong));
    std::tie(cos_, sin_) = rot_.tables(pos, m.dtype());
  }
  // Rows for positions [p, p + n): [n, rd].
  at::Tensor cos(int64_t p, int64_t n = 1) const { return cos_.narrow(0, p, n); }
  at::Tensor sin(int64_t p, int64_t n = 1) const { return sin_.narrow(0, p, n); }
  // Per-KV-head single positions (pos [KV] int64 on device): [KV, 1, rd].
  at::Tensor cos_at(const at::Tensor& pos) const { return cos_.index_select(0, pos).unsqueeze(1); }
  at::Tensor sin_at(const at::Tensor& pos) const { return sin_.index_select(0, pos).unsqueeze(1); }
  at::Tensor apply(const at::Tensor& x, const at::Tensor& c, const at::Tensor& s) const {
    return rot_.apply(x, c, s);
  }

 private:
  const Rotary& rot_;
  at::Tensor cos_, sin_;
};

// One query per query head, q [H, 1, D], over the cached keys/values [KV, L, D]; the G = H / KV
// query heads of a KV head are stacked as rows [KV, G, D] (no copies of the cache). mask
// [KV, 1, L] (true = visible) when heads differ in length or a native window hides entries.
// Softmax in float32, as transformers' eager attention. probs_out, when given, receives the
// probabilities [KV, G, L].
at::Tensor cache_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const at::Tensor& mask, at::Tensor* probs_out = nullptr) {
  const int64_t H = q.size(0), KV = k.size(0), D = q.size(-1);
  const double scale = 1.0 / std::sqrt(double(D));
  at::Tensor qg = q.reshape({KV, H / KV, D});
  at::Tensor scores = at::matmul(qg, k.transpose(-1, -2)).to(at::kFloat).mul_(scale);
  if (mask.defined()) scores.masked_fill_(mask.logical_not(), -std::numeric_limits<float>::infinity());
  at::Tensor probs = softmax_lastdim_(scores);
  if (probs_out) *probs_out = probs;  // [KV, G, L]
  return at::matmul(probs.to(v.scalar_type()), v).view({H, 1, D});
}

// Native sliding window of the model (query at text position t sees a cached entry at text
// position p iff t - p < W), as a mask [KV, 1, L] over the cache's slots, combined with the
// valid-slot mask when given; undefined when nothing is hidden.
at::Tensor native_window_mask(const KVCache& cache, int64_t l, int64_t t, int64_t W,
                              const at::Tensor& valid, at::Device dev) {
  const int64_t KV = cache.heads(), L = cache.max_length(l);
  if (W <= 0 || t < W) return valid;
  at::Tensor m = at::zeros({KV, 1, L}, at::TensorOptions().dtype(at::kBool));
  bool any_hidden = false;
  auto acc = m.accessor<bool, 3>();
  for (int64_t h = 0; h < KV; ++h) {
    const auto& pos = cache.positions(l, h);
    for (size_t i = 0; i < pos.size(); ++i) {
      const bool vis = t - pos[i] < W;
      acc[h][0][int64_t(i)] = vis;
      any_hidden |= !vis;
    }
    if (int64_t(pos.size()) < L) any_hidden = true;
  }
  if (!any_hidden) return valid;
  m = m.to(dev);
  return valid.defined() ? at::logical_and(m, valid) : m;
}

}  // namespace

EvalResult evaluate_decode(const Model& model, const std::vector<int64_t>& ids,
                           const DecodeOptions& opt) {
  require(ids.size() >= 2, "need at least 2 tokens to evaluate next-token prediction, got " +
                               std::to_string(ids.size()));
  c10::InferenceMode guard;
  const int64_t N = static_cast<int64_t>(ids.size());
  const at::Device dev = model.device();
  const PositionMode mode = opt.positions;
  KVCache cache = KVCache::for_model(model, mode == PositionMode::Shifted);
  if (opt.compressor) opt.compressor->check(cache);
  RotaryTable rot(model, N + 1);
  at::Tensor ids_dev = at::tensor(ids, at::TensorOptions().dtype(at::kLong)).to(dev);
  const int64_t H = model.config().num_heads, KV = model.config().num_kv_heads, G = H / KV;

  reset_peak_memory(dev);
  const MemoryUsage mem0 = memory_usage(dev);
  std::vector<double> nll(static_cast<size_t>(N - 1)), step_s(static_cast<size_t>(N - 1));
  std::vector<int64_t> argmax(static_cast<size_t>(N - 1));
  int64_t cache_bytes_peak = 0;
  nlohmann::json trace = nlohmann::json::array();
  std::optional<Progress> progress;
  if (opt.progress)
    progress.emplace(std::string("decode ") + (opt.compressor ? opt.compressor->name() : "dense"),
                     long(N - 1), "tokens");

  auto lopt = at::TensorOptions().dtype(at::kLong);
  const bool wants_attention = opt.compressor && opt.compressor->needs_attention();
  const auto total0 = std::chrono::steady_clock::now();
  for (int64_t t = 0; t + 1 < N; ++t) {
    const auto s0 = std::chrono::steady_clock::now();
    const int64_t p_cache = cache.max_length(0);  // layer 0's length before this token
    AttentionFn attend = [&](int64_t l, QKV& x) -> at::Tensor {
      at::Tensor q, keys, mask;
      if (mode == PositionMode::Shifted) {
        cache.append(l, x.k, x.v, t);
        const int64_t L = cache.max_length(l);
        keys = rot.apply(cache.keys(l), rot.cos(0, L), rot.sin(0, L));
        if (cache.uniform(l)) {
          q = rot.apply(x.q, rot.cos(L - 1), rot.sin(L - 1));
        } else {
          at::Tensor len = cache.lengths_tensor(l).to(dev);
          at::Tensor qp = len - 1;  // per KV head; its query heads share it
          const int64_t D = x.q.size(-1);
          q = rot.apply(x.q.reshape({KV, G, D}), rot.cos_at(qp), rot.sin_at(qp)).view({H, 1, D});
          mask = (at::arange(L, lopt).to(dev).view({1, 1, L}) < len.view({-1, 1, 1}));
        }
      } else {
        const int64_t p = mode == PositionMode::True ? t : p_cache;
        at::Tensor qk = rot.apply(at::cat({x.q, x.k}, 0), rot.cos(p), rot.sin(p));
        q = qk.narrow(0, 0, H);
        cache.append(l, qk.narrow(0, H, KV), x.v, t);
        keys = cache.keys(l);
        if (!cache.uniform(l)) {
          const int64_t L = cache.max_length(l);
          at::Tensor len = cache.lengths_tensor(l).to(dev);
          mask = (at::arange(L, lopt).to(dev).view({1, 1, L}) < len.view({-1, 1, 1}));
        }
      }
      mask = native_window_mask(cache, l, t, model.config().native_window(l), mask, dev);
      if (wants_attention) {  // attention-aware compressors select from these slots next
        at::Tensor probs;
        at::Tensor out = cache_attention(q, keys, cache.values(l), mask, &probs);
        opt.compressor->set_step_attention(l, probs);
        return out;
      }
      return cache_attention(q, keys, cache.values(l), mask);
    };
    at::Tensor hidden = model.forward_hidden(ids_dev.narrow(0, t, 1), attend);
    TokenScores sc = model.score(hidden, ids_dev.narrow(0, t + 1, 1));
    nll[t] = sc.nll.item<double>();
    argmax[t] = sc.argmax.item<int64_t>();
    if (opt.compressor) opt.compressor->compress(cache, t + 1);
    cache_bytes_peak = std::max(cache_bytes_peak, cache.allocated_bytes());
    const auto s1 = std::chrono::steady_clock::now();
    step_s[t] = std::chrono::duration<double>(s1 - s0).count();
    if (opt.trace_every > 0 && (t % opt.trace_every == 0 || t + 2 == N)) {
      MemoryUsage m = memory_usage(dev);
      nlohmann::json e = {{"step", t},
                          {"cache_entries", cache.total_entries()},
                          {"cache_bytes", cache.allocated_bytes()},
                          {"rss_bytes", m.rss_bytes}};
      if (m.cuda_bytes >= 0) e["cuda_bytes"] = m.cuda_bytes;
      trace.push_back(e);
    }
    if (opt.on_step) opt.on_step(DecodeStep{t, nll[t], step_s[t], &cache});
    if (progress) progress->update(long(t + 1));
  }
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - total0).count();
  if (progress) progress->finish();

  EvalResult r;
  r.method = opt.compressor ? opt.compressor->name() : "dense";
  r.positions = to_string(mode);
  r.tokens = N;
  std::vector<int64_t> tgt(ids.begin() + 1, ids.end());
  r.finalize_from(nll, argmax, tgt);
  r.wall_s = total;
  r.tokens_per_s = double(N - 1) / total;
  const int64_t n = N - 1;
  double rest = 0;
  for (int64_t i = 1; i < n; ++i) rest += step_s[i];
  r.extra["decode"] = true;
  r.extra["ttft_s"] = step_s[0];
  r.extra["tpot_s"] = n > 1 ? rest / double(n - 1) : step_s[0];
  std::vector<int64_t> per_layer;
  int64_t final_size = -1;
  for (int64_t l = 0; l < cache.layers(); ++l) {
    per_layer.push_back(cache.max_length(l));
    if (final_size < 0 && !(opt.compressor && opt.compressor->skipped(l))) final_size = per_layer.back();
  }
  if (final_size < 0) final_size = per_layer[0];
  r.extra["final_cache_size"] = final_size;
  r.extra["final_cache_per_layer"] = per_layer;
  r.extra["cache_entries"] = cache.total_entries();
  r.extra["cache_bytes"] = cache.allocated_bytes();
  r.extra["cache_used_bytes"] = cache.used_bytes();
  r.extra["cache_bytes_peak"] = cache_bytes_peak;
  const MemoryUsage mem = memory_usage(dev);
  r.extra["rss_start_bytes"] = mem0.rss_bytes;
  r.extra["rss_bytes"] = mem.rss_bytes;
  r.extra["rss_peak_bytes"] = mem.rss_peak_bytes;
  if (mem.cuda_peak_bytes >= 0) r.extra["cuda_peak_bytes"] = mem.cuda_peak_bytes;
  r.extra["compressor"] = opt.compressor ? opt.compressor->params() : nlohmann::json{{"method", "dense"}};
  if (opt.trace_every > 0) r.extra["trace"] = trace;
  return r;
}

}  // namespace headscope
