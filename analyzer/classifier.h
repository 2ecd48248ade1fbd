// Head classification rules of the Python original (first match wins), with configurable
// thresholds (configs/analysis.toml; the defaults are the original's).
#pragma once
#include <cstdint>
#include <vector>

#include "analyzer/head_classification.h"

namespace headscope {

struct Thresholds {
  double low_entropy = 1.5;      // below: positional candidate
  double high_entropy = 3.0;     // above: gathering
  double dead_uniformity = 0.1;  // KL to uniform below this: dead
  double high_local = 0.6;       // local share above this: true positional
  double high_sink = 0.3;        // sink share above this: sink-focused
  // Throws Error with a one-line reason if the thresholds are inconsistent.
  void validate() const;
};

// What the rules look at.
struct ClassifierInput {
  double mean_entropy = 0, sink_ratio = 0, local = 0, uniformity = 0;
  const double* relative_position_dist = nullptr;  // at least `rel_len` values
  int64_t rel_len = 0;
  int64_t sink_size = 4;  // sink tokens recommended to keep (the analysis' sink size)
};

// Returns the classification of head (layer, head); stability is left at -1.
HeadClassification classify_head(int64_t layer, int64_t head, const ClassifierInput& in,
                                 const Thresholds& t);

}  // namespace headscope
