// Result files of `headscope analyze` (all written atomically):
//  - head_statistics.json: the Python original's schema ("model_info" + "head_statistics").
//  - head_classifications.json: see classification_io.h (+ per-head "stability").
//  - head_stats.h5 (HDF5 C++ API, readable by h5py): [layers, heads] float64 datasets
//    mean_entropy, std_entropy, max_attention_mean, sink_ratio, recent, local, global,
//    uniformity_score, confidence, stability; int32 head_type_code (index into the attribute
//    head_type_names) and recommended_window; [layers, heads, D] relative_position_dist;
//    [chunks, layers, heads] chunk_entropy and chunk_type_code; attributes: model path, config
//    hash, text path and sha256, tokens analysed, chunk size, context, stats settings,
//    thresholds, headscope version.
#pragma once
#include <string>
#include <vector>

#include "analyzer/analyzer.h"
#include "analyzer/head_statistics.h"

namespace headscope {

std::string head_statistics_json(const AnalysisResult& r);
void write_head_statistics(const std::string& path, const AnalysisResult& r);
// Reads a head_statistics.json (the original's schema); sorted by (layer, head).
std::vector<HeadStatistics> parse_head_statistics(const std::string& text, const std::string& what);

struct AnalysisProvenance {
  std::string model_path, text_path, text_sha256, config_hash;
  std::string json;  // common/provenance.h block as JSON text (file attribute "provenance")
};
// Publishes head_stats.h5 at `path` through common/atomic_file.h.
void write_head_stats_h5(const std::string& path, const AnalysisResult& r,
                         const AnalysisProvenance& prov);
// Creates the HDF5 file at exactly `file` (a staging path; `shown` names it in errors). For
// callers that stage several outputs and publish them together (StagedOutput::write_with).
void write_head_stats_h5_file(const std::string& file, const std::string& shown,
                              const AnalysisResult& r, const AnalysisProvenance& prov);

// Index of a type in head_type_names() (the HDF5 head_type_code); -1 if unknown.
int head_type_code(const std::string& type);

}  // namespace headscope
