// headscope's AttentionAnalyzer: runs the model's parallel forward with an attention observer,
// reduces each attention block to per-head sums on the device (head_statistics.h), keeps one
// row of per-head values per chunk (Eigen, float32 like the original's accumulators), then
// forms the final statistics, classifications and per-head stability.
//
// Context modes:
//  - Chunks (the Python original): the tokens are cut into consecutive chunks of chunk_size;
//    each chunk is a fresh forward pass over its own tokens at positions 0..T-1, so a query
//    never sees anything before its chunk's start, and "sink" means the chunk's first tokens.
//  - Full: one forward pass over all tokens (queries processed in blocks of chunk_size), so
//    each query chunk sees its full left context at its true position in the text. Sink keys
//    are the text's first sink_size tokens; "recent" is the last recent_ratio of the keys up
//    to the chunk's end; uniformity compares with the uniform distribution over all q+1 keys.
//    The numbers then describe the heads on long contexts and differ from the original's.
// In both modes chunks shorter than min_chunk_tokens (10) are skipped.
#pragma once
#include <Eigen/Core>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "analyzer/classifier.h"
#include "analyzer/head_classification.h"
#include "analyzer/head_statistics.h"
#include "analyzer/kv_groups.h"
#include "model/model.h"

namespace headscope {

enum class ContextMode { Chunks, Full };
ContextMode parse_context_mode(const std::string& s);  // "chunks" | "full"
const char* to_string(ContextMode m);

struct AnalysisOptions {
  StatsOptions stats;
  Thresholds thresholds;
  int64_t chunk_size = 512;
  int64_t min_chunk_tokens = 10;
  ContextMode context = ContextMode::Chunks;
  // Full mode: queries per attention block (must divide chunk_size; 0 = automatic: chunk_size,
  // halved while one layer's [H, block, N] probabilities would exceed 256 MiB).
  int64_t full_query_block = 0;
  void validate() const;  // throws Error with a one-line reason
};

// Values of one chunk, float32 as in the original. Rows: heads (layer * H + head).
struct ChunkValues {
  enum Column : int64_t { Entropy = 0, Max, Sink, Recent, Local, Global, Uniformity, NumColumns };
  int64_t begin = 0, length = 0;  // token range of the chunk
  Eigen::ArrayXXf scalars;        // [L*H, NumColumns]
  Eigen::ArrayXXf rel;            // [L*H, max_distance]
};

struct AnalysisResult {
  int64_t layers = 0, heads = 0, tokens = 0;
  int64_t kv_heads = 0;  // GQA models: fewer than heads (then `groups` is filled); else == heads
  AnalysisOptions options;
  std::vector<ChunkValues> chunks;            // analysed chunks, in text order
  std::vector<HeadStatistics> stats;          // sorted by (layer, head)
  std::vector<HeadClassification> classes;    // with stability
  std::vector<std::vector<std::string>> chunk_types;  // [head][chunk] per-chunk type
  std::vector<KvGroup> groups;                // GQA only: per (layer, KV head), kv_groups.h
  double seconds = 0;                         // wall time of the analysis
  // Longest forward pass (tokens) > the model's max_position_embeddings: positions past the
  // trained context were used (allowed, to study extrapolation; recorded in the outputs).
  bool beyond_trained_context = false;
};

// progress(done, total) is called after every layer of every chunk.
using AnalysisProgress = std::function<void(int64_t done, int64_t total)>;

AnalysisResult analyze_heads(const Model& model, const std::vector<int64_t>& ids,
                             const AnalysisOptions& opt, const AnalysisProgress& progress = {});

// Final statistics, classifications and stability from per-chunk values (no model needed):
// means over chunks in float32 (as the original), std of the per-chunk entropy (float64),
// classification of the means,
// and the share of chunks whose own classification equals the final type.
void finalize_analysis(AnalysisResult& r);

}  // namespace headscope
