// A sweep: a grid (models x documents x {dense + ablation configurations}) expanded into
// independent units with stable ids, written once by `headscope sweep plan` as
// DIR/manifest.json and read by `sweep run` / `sweep merge` / `sweep slurm`.
//
// SPEC.toml (relative paths are relative to the working directory of `sweep plan`; the
// manifest stores absolute ones):
//   [[model]]                     # one table per model
//   path = "models/neox-gutenberg-14m"
//   classifications = "results/default/head_classifications.json"  # needed by head-aware configs
//   [[dataset]]                   # one table per dataset (same semantics as --dataset)
//   path = "data/books"           # directory of .txt, .jsonl, or a text file
//   field = "text"                # .jsonl field (optional)
//   split_on = "\n\n"             # text file split into documents (optional)
//   max_docs = 0                  # optional
//   [evaluation]
//   max_tokens = 1000             # per document (0 = whole document)
//   newlines = "lf"
//   context = 0                   # strided perplexity: window length (0 = off)
//   stride = 0
//   threads = 0                   # intra-op threads per process (0 = all cores)
//   [ablation]
//   config = "configs/ablation.toml"
//   groups = ["A", "B"]           # optional: a subset of the groups
//   [statistics]
//   bootstrap = 1000              # resamples for the 95% intervals of `sweep merge`
//   seed = 0
//
// Unit id: the first 16 hex digits of the SHA-256 of the unit's defining fields (model path,
// document name and text SHA-256, configuration name and parameters, max_tokens, newlines,
// context, stride), so re-planning the same grid gives the same ids.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace headscope {

inline constexpr const char* kSweepSchema = "headscope.sweep/1";

struct SweepDataset {
  std::string path, field = "text", split_on;
  int64_t max_docs = 0;
};

struct SweepSpec {
  struct ModelEntry {
    std::string path, classifications;
  };
  std::vector<ModelEntry> models;
  std::vector<SweepDataset> datasets;
  int64_t max_tokens = 1000;
  std::string newlines = "lf";
  int64_t context = 0, stride = 0;
  int64_t threads = 0;
  std::string ablation_config = "configs/ablation.toml";
  std::vector<std::string> groups;
  int64_t bootstrap = 1000;
  uint64_t seed = 0;

  nlohmann::json to_json() const;
  static SweepSpec from_json(const nlohmann::json& j);
};

// Parses SPEC.toml and makes its paths absolute. Throws Error (one line) on anything malformed.
SweepSpec parse_sweep_spec(const std::string& toml_text, const std::string& source);
SweepSpec load_sweep_spec(const std::string& path);

struct SweepDocument {
  std::string name, sha256;  // text SHA-256 after the newline convention
  int64_t dataset = 0;       // index into spec.datasets
};

struct SweepUnit {
  std::string id;
  int64_t index = 0;
  int64_t model = 0;       // index into spec.models
  int64_t document = 0;    // index into manifest.documents
  std::string config;      // "dense" or the ablation configuration's name
  std::string group;       // "" for dense
  nlohmann::json params;   // the configuration's parameters (null for dense)
  nlohmann::json to_json() const;
};

struct SweepManifest {
  SweepSpec spec;
  std::vector<SweepDocument> documents;
  std::vector<SweepUnit> units;
  std::string reference_group = "B";

  nlohmann::json to_json() const;
  // Checks the schema, unit indices, and that every id matches its fields. Throws Error naming
  // the first inconsistency.
  static SweepManifest from_json(const nlohmann::json& j, const std::string& what);
  static SweepManifest load(const std::string& dir);  // DIR/manifest.json
};

// Reads every dataset (not the model) and the ablation plan, and expands the grid.
SweepManifest plan_sweep(const SweepSpec& spec);

std::string unit_id(const SweepManifest& m, const SweepUnit& u);

std::string manifest_path(const std::string& dir);
std::string unit_result_path(const std::string& dir, const std::string& id);

}  // namespace headscope
