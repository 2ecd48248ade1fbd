// Runs an ablation plan with the parallel mask engine (eval/parallel_eval.h): every
// configuration is one forward pass over the text with its per-head visibility, original
// positions. After each configuration the whole results file is rewritten atomically, so an
// interrupted run resumes where it stopped: configurations already present (same name and
// parameters, same model/text/token count) are skipped.
//
// Results file (read by the viz helper; keep the schema):
//   {"schema": "headscope.ablation/1", "model": ..., "text": ..., "tokens": N,
//    "dense": {"perplexity": ..., "accuracy": ..., "tokens_per_s": ..., "wall_s": ...},
//    "classifications": "path" (or ""),
//    "reference_group": "B", "groups": [{"id", "title"}, ...]   (the plan's, for figures/reports)
//    "token_ids_sha256": "...", "model_identity": "...", "nominal_context_note": "...",
//    "provenance": {...}                                        (additions, ignored by readers)
//    "results": [ {"name", "group", "perplexity", "accuracy", "nominal_context",
//                  "measured_context", "tokens_per_s", "wall_s", "params": {...},
//                  "policy": {"hash", "sinks", "windows"[, "file"]}}, ... ] }
// nominal_context: the original's mean over heads of sink + window, full heads counted as the
// text length (the original: a 1024 placeholder). measured_context: mean number of keys each
// query actually saw (what tables and plots use).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "analyzer/head_classification.h"
#include "dataset/document_stats.h"
#include "headaware/ablation_config.h"
#include "headaware/kv_group_policy.h"
#include "model/model.h"

namespace headscope {

inline constexpr const char* kAblationSchema = "headscope.ablation/1";
inline constexpr int kNllSegments = 20;
// Key comparisons: a reference run matches when its measured context is within this fraction
// of the head-aware run's.
inline constexpr double kMatchedContext = 0.02;
extern const char* const kNominalContextNote;

struct AblationRecord {
  std::string name, group;
  double perplexity = 0, accuracy = 0;
  double nominal_context = 0, measured_context = 0;
  double tokens_per_s = 0, wall_s = 0;
  nlohmann::json params = nlohmann::json::object();
  // The policy actually evaluated: {"hash", "sinks": [[...]], "windows": [[...]]} per (layer,
  // KV head), plus "file" for the policy_file builder (empty in files written before it).
  nlohmann::json policy;
  // The predictions cut into kNllSegments contiguous segments: {"predictions": [..],
  // "nll_sum": [..]} (null in files written before it). Paired block-bootstrap intervals of
  // the key comparisons resample these segments.
  nlohmann::json nll_segments;

  bool head_aware() const { return params.value("builder", std::string("uniform")) != "uniform"; }
  nlohmann::ordered_json to_json() const;  // fields in the schema's order
  static AblationRecord from_json(const nlohmann::json& j);  // throws Error on missing fields
};

struct DenseRecord {
  double perplexity = 0, accuracy = 0, tokens_per_s = 0, wall_s = 0;
};

// What a results file was computed for; a resumed run must match it. By content where both
// sides record it: the model by model_identity (common/provenance.h: config.json + weights
// fingerprint), the text by its token ids' digest; the paths (kept as first given, for the
// reader) are compared only for files that predate those fields.
struct AblationIdentity {
  std::string model, text, classifications;
  int64_t tokens = 0;
  std::string token_ids_sha256;  // ids_digest(ids): catches another newline mode or tokenizer
  std::string model_identity;    // model_identity(dir).id
  std::string classifications_sha256;  // of the classification file's bytes (resume by content)
};

// SHA-256 (hex) of the token ids as little-endian int64.
std::string ids_digest(const std::vector<int64_t>& ids);

struct AblationFile {
  AblationIdentity id;
  bool has_dense = false;
  DenseRecord dense;
  std::vector<AblationRecord> results;
  nlohmann::json provenance;  // common/provenance.h block of the latest run (null: none)
  // The plan's groups (merged over resumed runs, first seen first) and reference group, written
  // so that figures and reports label and colour groups without knowing their ids.
  std::vector<AblationGroup> groups;
  std::string reference_group;
  // Adds the plan's groups not yet listed (a resumed run keeps earlier titles) and its reference.
  void record_plan(const AblationPlan& plan);

  int find(const std::string& name) const;  // index or -1
  nlohmann::ordered_json to_json() const;  // fields in the schema's order
  static AblationFile from_json(const nlohmann::json& j, const std::string& what);
  static AblationFile load(const std::string& path);
  void save(const std::string& path) const;  // atomic
};

// The file at `path` if it exists and was computed for the same model, text, token count and
// token ids (where both record them) and the same classification file (where both name one);
// a fresh file if `path` is absent.
// Throws Error if it exists but belongs to another run or is not an ablation results file.
AblationFile open_ablation_file(const std::string& path, const AblationIdentity& id);

// GQA (model/model.h): how head-aware policies meet KV heads. By default every builder's
// per-query-head policy is reduced to one entry per (layer, KV head) by `group_rule`
// (headaware/kv_group_policy.h) — exactly what a real cache can do. per_query_head evaluates
// the query-head policies as they are (mask engine only): research results that no real cache
// can realise, flagged as such in every record's params. Multi-head models: no difference.
struct KvPolicyOptions {
  bool per_query_head = false;
  GroupRule group_rule = GroupRule::Max;
};

struct AblationRunOptions {
  std::string out_path;      // rewritten after every configuration (empty: not saved)
  int64_t query_block = 0;   // 0: auto_query_block
  KvPolicyOptions kv;
  bool progress = true;      // progress on stderr within each configuration (common/progress.h)
  std::FILE* log = nullptr;  // one line per configuration (null: quiet)
};

struct AblationRunStats {
  int evaluated = 0, skipped = 0;
  double wall_s = 0;
};

// The query block the runner uses when none is given: 256 on the CPU (measured fastest), on a
// GPU the whole text up to 1024 queries (fewest kernel launches, bounded memory).
int64_t auto_query_block(int64_t tokens, bool cuda);

// {"hash", "sinks", "windows"} of a policy, as stored in each result's "policy" field.
nlohmann::json policy_record(const Visibility& v);

// Evaluates one configuration (no file I/O); `progress` (may be empty) sees (done, total)
// query blocks over all layers.
using EvalProgress = std::function<void(int64_t done, int64_t total)>;
AblationRecord evaluate_config(const Model& model, const std::vector<int64_t>& ids,
                               const AblationConfig& cfg, const ClassificationFile* cls,
                               int64_t query_block = 0, const KvPolicyOptions& kv = {},
                               const EvalProgress& progress = {});
DenseRecord evaluate_dense(const Model& model, const std::vector<int64_t>& ids,
                           int64_t query_block = 0, const EvalProgress& progress = {});

// Runs the dense baseline (unless stored) and every configuration of `plan` not yet in `file`
// (or stored with other parameters), saving after each. `file.id` must describe `ids`.
AblationRunStats run_ablation(const Model& model, const std::vector<int64_t>& ids,
                              const AblationPlan& plan, const ClassificationFile* cls,
                              AblationFile& file, const AblationRunOptions& opt);

// {"predictions", "nll_sum"} of per-prediction NLLs cut into `segments` contiguous parts.
nlohmann::json nll_segments(const std::vector<double>& nll, int segments = kNllSegments);

// Each head-aware result (builder other than uniform) against the reference-group result of
// nearest measured context. Only a reference within ±kMatchedContext of the head-aware run's
// measured context is a fair comparison (matched); for those, the paired difference's 95%
// interval from a block bootstrap over the text's kNllSegments segments (both runs resampled
// with the same segments; dataset/document_stats.h), when both records carry segments.
struct AblationComparison {
  std::string name, reference;
  double perplexity = 0, ref_perplexity = 0;
  double context = 0, ref_context = 0;  // measured
  bool matched = false;                 // |context - ref_context| <= kMatchedContext * context
  Interval delta_ci;                    // of delta_ppl; invalid when not computable
  double delta_ppl() const { return perplexity - ref_perplexity; }
  double delta_pct() const { return 100.0 * (perplexity - ref_perplexity) / ref_perplexity; }
};
std::vector<AblationComparison> key_comparisons(const AblationFile& f,
                                                const std::string& reference_group = "B");

// Text tables: results by group (groups in `plan` order first, then any others in the file),
// each sorted by measured context; then the key comparisons.
std::string format_summary(const AblationFile& f, const AblationPlan& plan);
std::string format_comparisons(const AblationFile& f, const std::string& reference_group);

}  // namespace headscope
