// `headscope sweep merge DIR`: checks that every unit of the manifest has a finished result,
// then pools them per model and configuration over the documents (dataset/document_stats.h):
// token-weighted PPL and accuracy with bootstrap 95% intervals, the paired difference against
// dense and against the reference group's configuration of nearest measured context (the
// ablation's key comparison), and every per-document value. Writes DIR/merged.json atomically.
//
// merged.json: {"schema": "headscope.sweep-merged/1", "units": N, "results_sha256": ...,
//   "models": [ <per model: an ablation results file (schema headscope.ablation/1, readable by
//   `headscope plot context`) whose records also carry "pooled", "paired_vs_dense",
//   "paired_vs_reference", "documents"> ], "timing": {...}}
// results_sha256 hashes "models" (which holds no timing), so two runs of the same grid -- one
// process or any number of shards -- can be compared by one value.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sweep/manifest.h"

namespace headscope {

inline constexpr const char* kSweepMergedSchema = "headscope.sweep-merged/1";

// Every unit's result file, by unit index. Throws Error when any is missing or failed, saying
// how many and naming the first failure.
std::vector<nlohmann::json> collect_unit_results(const std::string& dir, const SweepManifest& m);

// The per-model merged objects (see above). `units[i]` is unit i's result file content.
nlohmann::json merge_unit_results(const SweepManifest& m, const std::vector<nlohmann::json>& units);

// Printed tables: per model, configurations by group with pooled PPL, interval, paired
// differences; per document PPL of dense.
std::string format_merged(const nlohmann::json& models);

}  // namespace headscope
