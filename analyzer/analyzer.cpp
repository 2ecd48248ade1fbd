#include "analyzer/analyzer.h"

#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>

#include "common/error.h"
#include "model/parallel_attention.h"

namespace headscope {

ContextMode parse_context_mode(const std::string& s) {
  if (s == "chunks") return ContextMode::Chunks;
  if (s == "full") return ContextMode::Full;
  throw Error("unknown context mode '" + s + "' (expected chunks or full)");
}

const char* to_string(ContextMode m) { return m == ContextMode::Full ? "full" : "chunks"; }

void AnalysisOptions::validate() const {
  require(chunk_size >= 1, "chunk_size must be >= 1 (got " + std::to_string(chunk_size) + ")");
  require(min_chunk_tokens >= 1, "min_chunk_tokens must be >= 1");
  require(stats.sink_size >= 0, "sink_size must be >= 0 (got " + std::to_string(stats.sink_size) + ")");
  require(stats.local_window >= 0,
          "local_window must be >= 0 (got " + std::to_string(stats.local_window) + ")");
  require(stats.recent_ratio >= 0 && stats.recent_ratio <= 1,
          "recent_ratio must lie in [0, 1] (got " + std::to_string(stats.recent_ratio) + ")");
  require(stats.max_distance >= 1 && stats.max_distance <= 65536,
          "relative_positions must lie in [1, 65536] (got " +
              std::to_string(stats.max_distance) + ")");
  require(full_query_block >= 0 && (full_query_block == 0 || chunk_size % full_query_block == 0),
          "full_query_block must divide chunk_size");
  thresholds.validate();
}

namespace {

// Collects the per-head sums of every block into per-chunk float32 rows.
class StatsObserver : public AttentionObserver {
 public:
  StatsObserver(int64_t layers, int64_t heads, const AnalysisOptions& opt,
                std::function<void()> on_layer)
      : L_(layers), H_(heads), opt_(opt), on_layer_(std::move(on_layer)) {}

  // The next forward covers sequence positions [0, seq_len) and its query chunks map to
  // `chunks` (chunk c covers positions [c*chunk_size, ...) of this forward).
  void begin_forward(std::vector<ChunkValues>* chunks, int64_t first_chunk) {
    chunks_ = chunks;
    first_chunk_ = first_chunk;
  }

  void observe(const AttentionBlock& b) override {
    const int64_t cs = opt_.chunk_size;
    const int64_t local_chunk = b.q_begin / cs;
    ChunkValues& cv = (*chunks_)[static_cast<size_t>(first_chunk_ + local_chunk)];
    const int64_t chunk_begin = local_chunk * cs;  // in this forward's positions
    const int64_t nq = b.probs.size(1), nk = b.probs.size(2);
    require(b.q_begin + nq <= chunk_begin + cv.length, "internal: attention block crosses a chunk");
    // Keys must be a contiguous range (no visibility masks are used by the analyzer).
    const int64_t k0 = b.key_index[0].item<int64_t>();
    require(b.key_index[nk - 1].item<int64_t>() - k0 + 1 == nk,
            "internal: analyzer needs contiguous key blocks");
    // Key length of the chunk: its last position + 1 (the original's key_len).
    const int64_t key_len = chunk_begin + cv.length;
    if (cv.length >= opt_.min_chunk_tokens) {
      BlockSums s = reduce_attention_block(b.probs, b.q_begin, k0, key_len, opt_.stats);
      add(cv, b.layer, s);
      if (b.q_begin + nq == chunk_begin + cv.length && on_layer_) on_layer_();
    }
  }

 private:
  void add(ChunkValues& cv, int64_t layer, const BlockSums& s) {
    const int64_t D = opt_.stats.max_distance;
    const float* p = s.sums.data_ptr<float>();
    const int64_t W = kNumSumColumns + D;
    for (int64_t h = 0; h < H_; ++h) {
      const int64_t row = layer * H_ + h;
      for (int64_t c = 0; c < kNumSumColumns; ++c) sum_(row, c) += p[h * W + c];
      for (int64_t d = 0; d < D; ++d) relsum_(row, d) += p[h * W + kNumSumColumns + d];
    }
    nq_[layer] += s.queries;
    nkl_[layer] += s.kl_queries;
    if (nq_[layer] == cv.length) finish_layer(cv, layer);
  }

  // Per-chunk means of one layer, in float32 as the original.
  void finish_layer(ChunkValues& cv, int64_t layer) {
    const float T = float(cv.length);
    const float nkl = float(nkl_[layer]);
    for (int64_t h = 0; h < H_; ++h) {
      const int64_t row = layer * H_ + h;
      float ent = sum_(row, kSumEntropy) / T, mx = sum_(row, kSumMax) / T;
      float sink = sum_(row, kSumSink) / T, recent = sum_(row, kSumRecent) / T;
      float local = sum_(row, kSumLocal) / T;
      float global = std::max(0.0f, 1.0f - sink - local);
      float kl = nkl_[layer] > 0 ? sum_(row, kSumKL) / nkl : 0.0f;
      cv.scalars(row, ChunkValues::Entropy) = ent;
      cv.scalars(row, ChunkValues::Max) = mx;
      cv.scalars(row, ChunkValues::Sink) = sink;
      cv.scalars(row, ChunkValues::Recent) = recent;
      cv.scalars(row, ChunkValues::Local) = local;
      cv.scalars(row, ChunkValues::Global) = global;
      cv.scalars(row, ChunkValues::Uniformity) = kl;
      for (int64_t d = 0; d < relsum_.cols(); ++d) cv.rel(row, d) = relsum_(row, d) / T;
    }
    sum_.middleRows(layer * H_, H_).setZero();
    relsum_.middleRows(layer * H_, H_).setZero();
    nq_[layer] = 0;
    nkl_[layer] = 0;
  }

 public:
  void reset_sums() {
    sum_ = Eigen::ArrayXXf::Zero(L_ * H_, kNumSumColumns);
    relsum_ = Eigen::ArrayXXf::Zero(L_ * H_, opt_.stats.max_distance);
    nq_.assign(static_cast<size_t>(L_), 0);
    nkl_.assign(static_cast<size_t>(L_), 0);
  }

 private:
  int64_t L_, H_;
  const AnalysisOptions& opt_;
  std::function<void()> on_layer_;
  std::vector<ChunkValues>* chunks_ = nullptr;
  int64_t first_chunk_ = 0;
  Eigen::ArrayXXf sum_, relsum_;
  std::vector<int64_t> nq_, nkl_;
};

}  // namespace

AnalysisResult analyze_heads(const Model& model, const std::vector<int64_t>& ids,
                             const AnalysisOptions& opt, const AnalysisProgress& progress) {
  c10::InferenceMode guard;
  opt.validate();
  const auto t0 = std::chrono::steady_clock::now();
  AnalysisResult r;
  r.layers = model.config().num_layers;
  r.heads = model.config().num_heads;
  r.kv_heads = model.config().num_kv_heads;
  r.tokens = static_cast<int64_t>(ids.size());
  r.options = opt;
  const int64_t N = r.tokens, cs = opt.chunk_size, L = r.layers, H = r.heads;
  const int64_t D = opt.stats.max_distance;

  // All chunks of the text, then the analysed ones (>= min_chunk_tokens).
  std::vector<ChunkValues> all;
  for (int64_t b = 0; b < N; b += cs) {
    ChunkValues cv;
    cv.begin = b;
    cv.length = std::min(cs, N - b);
    cv.scalars = Eigen::ArrayXXf::Zero(L * H, ChunkValues::NumColumns);
    cv.rel = Eigen::ArrayXXf::Zero(L * H, D);
    all.push_back(std::move(cv));
  }
  int64_t analysed = 0;
  for (const auto& c : all) analysed += c.length >= opt.min_chunk_tokens;
  require(analysed > 0, "no chunk of at least " + std::to_string(opt.min_chunk_tokens) +
                            " tokens to analyse (" + std::to_string(N) + " tokens)");

  int64_t done = 0;
  const int64_t total = analysed * L;
  StatsObserver obs(L, H, opt, [&]() {
    if (progress) progress(std::min(++done, total), total);
  });
  obs.reset_sums();
  at::Tensor all_ids = at::tensor(ids, at::TensorOptions().dtype(at::kLong));

  if (opt.context == ContextMode::Chunks) {
    for (size_t c = 0; c < all.size(); ++c) {
      if (all[c].length < opt.min_chunk_tokens) continue;
      obs.begin_forward(&all, static_cast<int64_t>(c));
      ParallelAttentionOptions po;
      po.observer = &obs;
      po.query_block = all[c].length;  // the whole chunk in one block per layer
      at::Tensor chunk_ids = all_ids.narrow(0, all[c].begin, all[c].length);
      model.forward_hidden(chunk_ids, parallel_attention(model, po));
    }
  } else {
    // One forward over everything; query blocks tile the chunks, keys = all positions up to the
    // block. Blocks are halved (staying a divisor of chunk_size) to bound memory on long texts.
    int64_t qb = opt.full_query_block;
    if (qb == 0) {
      qb = cs;
      const double limit = 256.0 * 1024 * 1024;
      while (qb % 2 == 0 && qb > 16 && double(H) * double(qb) * double(N) * 4.0 > limit) qb /= 2;
    }
    obs.begin_forward(&all, 0);
    ParallelAttentionOptions po;
    po.observer = &obs;
    po.query_block = qb;
    model.forward_hidden(all_ids, parallel_attention(model, po));
  }

  for (auto& c : all)
    if (c.length >= opt.min_chunk_tokens) r.chunks.push_back(std::move(c));
  finalize_analysis(r);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

void finalize_analysis(AnalysisResult& r) {
  const int64_t L = r.layers, H = r.heads, n = L * H;
  const int64_t C = static_cast<int64_t>(r.chunks.size());
  require(C > 0, "no chunks analysed");
  const int64_t D = r.chunks[0].rel.cols();
  // Accumulate in chunk order in float32, like the original's float32 accumulator tensors.
  Eigen::ArrayXXf sum = Eigen::ArrayXXf::Zero(n, ChunkValues::NumColumns);
  Eigen::ArrayXXf rel = Eigen::ArrayXXf::Zero(n, D);
  for (const auto& c : r.chunks) {
    sum += c.scalars;
    rel += c.rel;
  }
  const float count = float(C);
  sum /= count;
  rel /= count;

  const Thresholds& t = r.options.thresholds;
  r.stats.assign(static_cast<size_t>(n), {});
  r.classes.assign(static_cast<size_t>(n), {});
  r.chunk_types.assign(static_cast<size_t>(n), {});
  std::vector<double> reld(static_cast<size_t>(D));
  for (int64_t row = 0; row < n; ++row) {
    HeadStatistics& s = r.stats[static_cast<size_t>(row)];
    s.layer = row / H;
    s.head = row % H;
    s.mean_entropy = sum(row, ChunkValues::Entropy);
    // std across chunks in float64: the original's float32 E[x^2] - E[x]^2 cancels to a few
    // 1e-6 of noise in the variance; the float64 value is the exact std of the per-chunk
    // means and lies closer to the original's numbers than an emulation of its rounding.
    double m1 = 0, m2 = 0;
    for (const auto& ch : r.chunks) {
      const double x = ch.scalars(row, ChunkValues::Entropy);
      m1 += x;
      m2 += x * x;
    }
    m1 /= double(C);
    m2 /= double(C);
    s.std_entropy = std::sqrt(std::max(0.0, m2 - m1 * m1));
    s.max_attention_mean = sum(row, ChunkValues::Max);
    s.sink = sum(row, ChunkValues::Sink);
    s.recent = sum(row, ChunkValues::Recent);
    s.local = sum(row, ChunkValues::Local);
    s.global = sum(row, ChunkValues::Global);
    s.uniformity = sum(row, ChunkValues::Uniformity);
    s.relative_position_dist.resize(static_cast<size_t>(D));
    for (int64_t d = 0; d < D; ++d) s.relative_position_dist[d] = rel(row, d);

    ClassifierInput in;
    in.mean_entropy = s.mean_entropy;
    in.sink_ratio = s.sink;
    in.local = s.local;
    in.uniformity = s.uniformity;
    in.relative_position_dist = s.relative_position_dist.data();
    in.rel_len = D;
    in.sink_size = r.options.stats.sink_size;
    HeadClassification c = classify_head(s.layer, s.head, in, t);

    // Stability: share of chunks whose own classification agrees with the final type.
    int64_t agree = 0;
    auto& types = r.chunk_types[static_cast<size_t>(row)];
    for (const auto& ch : r.chunks) {
      for (int64_t d = 0; d < D; ++d) reld[d] = ch.rel(row, d);
      ClassifierInput ci;
      ci.mean_entropy = ch.scalars(row, ChunkValues::Entropy);
      ci.sink_ratio = ch.scalars(row, ChunkValues::Sink);
      ci.local = ch.scalars(row, ChunkValues::Local);
      ci.uniformity = ch.scalars(row, ChunkValues::Uniformity);
      ci.relative_position_dist = reld.data();
      ci.rel_len = D;
      ci.sink_size = in.sink_size;
      types.push_back(classify_head(s.layer, s.head, ci, t).type);
      agree += types.back() == c.type;
    }
    c.stability = double(agree) / double(C);
    r.classes[static_cast<size_t>(row)] = c;
  }
  r.groups.clear();
  if (r.kv_heads > 0 && r.kv_heads < H) {
    for (auto& c : r.classes) c.kv_head = c.head / (H / r.kv_heads);
    r.groups = kv_group_aggregates(r.stats, r.classes, L, H, r.kv_heads, r.options.stats.sink_size, t);
  }
}

}  // namespace headscope
