// The analyzer's per-head result files as the figures read them: head_classifications.json
// (types, confidence, optional stability) and head_statistics.json (entropy, sink/local ratio,
// relative-position profile), both in the Python original's schema.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "viz/json_input.h"

namespace headscope::viz {

struct HeadTypeCell {
  int64_t layer = 0, head = 0;
  std::string type;
  double confidence = 0;
  double stability = 0;  // NaN when absent
};

struct HeadTypeGrid {
  std::string path;
  RunInfo info;
  int64_t layers = 0, heads = 0;
  std::vector<HeadTypeCell> cells;  // layer-major: cells[layer * heads + head]
  bool has_stability = false;       // every head carries "stability"
  const HeadTypeCell& at(int64_t l, int64_t h) const { return cells[size_t(l * heads + h)]; }
};

// Reads a head_classifications.json (current or legacy schema). Throws Error on malformed
// files, missing fields, out-of-range values, duplicate or missing (layer, head) entries.
HeadTypeGrid read_head_types(const std::string& path);

struct HeadStatCell {
  int64_t layer = 0, head = 0;
  double mean_entropy = 0;  // NaN when null
  double sink_ratio = 0;
  double local_ratio = 0;   // position_preference.local
  std::vector<double> relpos;  // relative_position_dist (attention share at distance 0..n-1)
};

struct HeadStatsGrid {
  std::string path;
  RunInfo info;
  int64_t layers = 0, heads = 0;
  int64_t sink_size = -1, local_window = -1;  // from model_info (-1 = absent)
  std::vector<HeadStatCell> cells;  // layer-major
  size_t relpos_len = 0;            // same for every head
  const HeadStatCell& at(int64_t l, int64_t h) const { return cells[size_t(l * heads + h)]; }
};

// Reads a head_statistics.json. Throws Error like read_head_types.
HeadStatsGrid read_head_stats(const std::string& path);

}  // namespace headscope::viz
