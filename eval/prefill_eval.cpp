#include "eval/prefill_eval.h"

#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include "common/error.h"
#include "common/progress.h"
#include "eval/decode_eval.h"
#include "model/attention_observer.h"
#include "model/kv_cache.h"
#include "model/parallel_attention.h"

namespace headscope {

namespace {

// Sums, per query head, the attention probability every key receives from the layer's queries.
class AccumulatingObserver : public AttentionObserver {
 public:
  void reset(int64_t heads, int64_t n, at::Device dev) {
    acc_ = at::zeros({heads, n}, at::TensorOptions().dtype(at::kFloat).device(dev));
  }
  void observe(const AttentionBlock& b) override {
    at::Tensor col = b.probs.sum(1);  // [H, nk]
    if (b.keys_from_zero)
      acc_.narrow(1, 0, col.size(1)).add_(col);
    else
      acc_.index_add_(1, b.key_index.to(acc_.device()), col);
  }
  const at::Tensor& sums() const { return acc_; }

 private:
  at::Tensor acc_;
};

// One query token over a (possibly ragged) cache, query heads grouped over KV heads.
// q [Hq, 1, D]; keys/values [Hkv, L, D]; mask [Hkv, 1, L] (true = valid) or undefined.
at::Tensor grouped_cache_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                   const at::Tensor& mask) {
  const int64_t Hq = q.size(0), D = q.size(-1), Hkv = k.size(0), g = Hq / Hkv;
  at::Tensor qg = q.reshape({Hkv, g, D});
  at::Tensor s = at::matmul(qg, k.transpose(-1, -2)).to(at::kFloat).mul_(1.0 / std::sqrt(double(D)));
  if (mask.defined()) s.masked_fill_(mask.logical_not(), -std::numeric_limits<float>::infinity());
  at::Tensor p = softmax_lastdim_(s);
  return at::matmul(p.to(v.scalar_type()), v).reshape({Hq, 1, D});
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

nlohmann::json PrefillResult::to_json(bool with_nll) const {
  nlohmann::json j = {{"method", eval.method},
                      {"protocol", "prefill"},
                      {"positions", eval.positions},
                      {"tokens", eval.tokens},
                      {"context_tokens", context_tokens},
                      {"predictions", predictions},
                      {"mean_nll", eval.mean_nll},
                      {"perplexity", eval.ppl},
                      {"accuracy", eval.accuracy},
                      {"wall_s", eval.wall_s},
                      {"tokens_per_s", eval.tokens_per_s},
                      {"prefill_s", prefill_s},
                      {"scoring_s", scoring_s},
                      {"scoring_tok_s", eval.tokens_per_s},
                      {"context_entries", context_entries},
                      {"kept_entries", kept_entries},
                      {"achieved_compression_ratio", achieved_compression_ratio()},
                      {"kept_per_layer", kept_per_layer},
                      {"cache_entries", cache_entries},
                      {"cache_bytes", cache_bytes},
                      {"rss_peak_bytes", rss_peak_bytes},
                      {"compressor", compressor}};
  if (cuda_peak_bytes >= 0) j["cuda_peak_bytes"] = cuda_peak_bytes;
  if (with_nll) j["nll"] = eval.nll;
  return j;
}

PrefillResult evaluate_prefill(const Model& model, const std::vector<int64_t>& ids,
                               const PrefillEvalOptions& opt) {
  const int64_t M = static_cast<int64_t>(ids.size()), N = opt.context_tokens;
  require(N >= 1, "--context-tokens must be >= 1, got " + std::to_string(N));
  require(N < M, "--context-tokens " + std::to_string(N) + " leaves no token to score: the text has " +
                     std::to_string(M) + " tokens (after --max-tokens)");
  require(!(opt.press && opt.compressor), "prefill protocol: give a press or a compressor, not both");
  if (opt.press) opt.press->check_context(N);
  c10::InferenceMode guard;
  const at::Device dev = model.device();
  auto lopt = at::TensorOptions().dtype(at::kLong);
  at::Tensor ids_dev = at::tensor(ids, lopt).to(dev);
  KVCache cache = KVCache::for_model(model);
  if (opt.compressor) opt.compressor->check(cache);

  reset_peak_memory(dev);
  const auto t0 = std::chrono::steady_clock::now();
  // ---- prefill: full causal attention, each layer compressed right after its attention ----
  AccumulatingObserver obs;
  ParallelAttentionOptions popt;
  const bool accumulate = opt.press && opt.press->needs_accumulated_attention();
  if (accumulate) popt.observer = &obs;
  AttentionFn inner = parallel_attention(model, popt);
  at::Tensor pos = at::arange(N, lopt);
  std::vector<int64_t> kept_per_layer;
  AttentionFn attend = [&](int64_t l, QKV& x) -> at::Tensor {
    if (accumulate) obs.reset(x.q.size(0), N, dev);
    at::Tensor out = inner(l, x);
    at::Tensor k = model.rotate(x.k, pos);
    for (int64_t i = 0; i < N; ++i) cache.append(l, k.narrow(1, i, 1), x.v.narrow(1, i, 1), i);
    if (opt.press) {
      PrefillLayerView view;
      view.layer = l;
      view.queries = model.rotate(x.q, pos);
      view.keys = k;
      view.values = x.v;
      if (accumulate) view.accumulated_attention = obs.sums();
      cache.keep(l, opt.press->select(view));
    }
    return out;
  };
  at::Tensor hidden = model.forward_hidden(ids_dev.narrow(0, 0, N), attend);
  TokenScores first = model.score(hidden.narrow(0, N - 1, 1), ids_dev.narrow(0, N, 1));
  if (opt.compressor) opt.compressor->compress(cache, N);
  int64_t kept = 0;
  for (int64_t l = 0; l < cache.layers(); ++l) {
    int64_t e = 0;
    for (int64_t h = 0; h < cache.heads(); ++h) e += cache.length(l, h);
    kept_per_layer.push_back(e);
    kept += e;
  }
  const double prefill_s = seconds_since(t0);

  // ---- scoring: token by token over the compressed cache, true positions ----
  std::vector<double> nll = {first.nll.item<double>()};
  std::vector<int64_t> argmax = {first.argmax.item<int64_t>()};
  std::optional<Progress> progress;
  if (opt.progress) progress.emplace("prefill protocol: scoring", long(M - N), "tokens");
  const auto t1 = std::chrono::steady_clock::now();
  for (int64_t t = N; t + 1 < M; ++t) {
    at::Tensor p = at::full({1}, t, lopt);
    AttentionFn step = [&](int64_t l, QKV& x) -> at::Tensor {
      at::Tensor q = model.rotate(x.q, p);
      cache.append(l, model.rotate(x.k, p), x.v, t);
      at::Tensor mask;
      if (!cache.uniform(l)) {
        const int64_t L = cache.max_length(l);
        at::Tensor len = cache.lengths_tensor(l).to(dev);
        mask = at::arange(L, lopt).to(dev).view({1, 1, L}) < len.view({-1, 1, 1});
      }
      return grouped_cache_attention(q, cache.keys(l), cache.values(l), mask);
    };
    at::Tensor h = model.forward_hidden(ids_dev.narrow(0, t, 1), step);
    TokenScores sc = model.score(h, ids_dev.narrow(0, t + 1, 1));
    nll.push_back(sc.nll.item<double>());
    argmax.push_back(sc.argmax.item<int64_t>());
    if (progress) progress->update(long(t + 1 - N));
  }
  const double scoring_s = seconds_since(t1);
  if (progress) progress->finish();

  PrefillResult res;
  EvalResult& r = res.eval;
  r.method = opt.press ? opt.press->name() : opt.compressor ? opt.compressor->name() : "dense";
  r.positions = "true";
  r.tokens = M;
  r.finalize_from(nll, argmax, std::vector<int64_t>(ids.begin() + N, ids.end()));
  r.wall_s = prefill_s + scoring_s;
  const int64_t decoded = M - N - 1;  // predictions made over the compressed cache
  r.tokens_per_s = decoded > 0 ? double(decoded) / scoring_s : 0.0;
  res.context_tokens = N;
  res.predictions = M - N;
  res.prefill_s = prefill_s;
  res.scoring_s = scoring_s;
  res.context_entries = N * cache.layers() * cache.heads();
  res.kept_entries = kept;
  res.kept_per_layer = kept_per_layer;
  res.cache_entries = cache.total_entries();
  res.cache_bytes = cache.allocated_bytes();
  const MemoryUsage mem = memory_usage(dev);
  res.rss_peak_bytes = mem.rss_peak_bytes;
  res.cuda_peak_bytes = mem.cuda_peak_bytes;
  res.compressor = opt.press        ? opt.press->params()
                   : opt.compressor ? opt.compressor->params()
                                    : nlohmann::json{{"method", "dense"}};
  return res;
}

}  // namespace headscope
