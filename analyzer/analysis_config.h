// configs/analysis.toml: defaults of the statistics and the classification thresholds.
//   [stats]       max_tokens, chunk_size, sink_size, local_window, recent_ratio,
//                 relative_positions, min_chunk_tokens, context ("chunks" | "full")
//   [thresholds]  low_entropy, high_entropy, dead_uniformity, high_local, high_sink
// Every key is optional (missing = the Python original's default); unknown keys, wrong types
// and inconsistent values are errors.
#pragma once
#include <cstdint>
#include <string>

#include "analyzer/analyzer.h"

namespace headscope {

struct AnalysisConfig {
  AnalysisOptions options;
  int64_t max_tokens = 2048;  // 0 = whole text
  std::string source = "(defaults)";

  void validate() const;  // throws Error with a one-line reason
  // Canonical TOML text of the effective settings (also what config_hash hashes).
  std::string canonical() const;
  std::string hash() const;  // sha256 of canonical()
};

// Parses TOML text (`what` names it in errors). Throws Error with a one-line reason.
AnalysisConfig parse_analysis_config(const std::string& toml_text, const std::string& what);
AnalysisConfig load_analysis_config(const std::string& path);

}  // namespace headscope
