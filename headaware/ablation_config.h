// The ablation experiment set: groups of named configurations, each a policy builder with its
// parameters, read from a TOML file (configs/ablation.toml declares the seeds' 29 configurations;
// users add their own groups there or in their own file).
//
// File format:
//   reference_group = "B"          # optional: the StreamingLLM baseline group of the key
//                                  # comparisons (default "B")
//   [[group]]
//   id = "G"                       # required, unique; what --groups selects
//   title = "..."                  # optional
//   builder = "confidence"         # uniform | from_classifications | confidence | inverse
//   sink = 4                       # any builder parameter here is a default for the configs
//   configs = [ { name = "G_conf0.3_base128", threshold = 0.3 }, ... ]
// A config may also set `builder`; the group's parameters then apply to it only if it keeps
// the group's builder. Parameters per builder (see headaware/policy_builders.h
// for semantics and defaults):
//   uniform:              sink, window
//   from_classifications: sink, window_override = { <type> = <window>, ... }
//   confidence:           sink, threshold, base_window, high_conf_windows = { <type> = ... }
//   inverse:              sink, base_window, gathering_window, gathering_confidence_threshold
//   policy_file:          file (a headscope.policy/1 file, relative to the TOML file)
// A table-valued parameter given in a config replaces the group's table (no merging).
// Windows: -1 = full context, 0 = dead head, > 0 = tokens. Anything impossible (negative
// windows other than -1, sink < 0, thresholds outside [0, 1], unknown builders, parameters or
// head types, duplicate names, malformed TOML) is a one-line Error naming the file and entry.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "analyzer/head_classification.h"
#include "headaware/policy_builders.h"
#include "model/visibility.h"

namespace headscope {

// A policy_file configuration's file: a relative path is taken relative to the TOML file's
// directory.
struct AblationConfig {
  std::string name, group;
  std::string builder;       // a name of known_builders() (headaware/policy_builders.h)
  BuilderParams parameters;  // the builder's parameter struct

  // The parameters as the builder's struct (throws std::bad_variant_access for another one).
  template <class P>
  const P& get() const { return std::get<P>(parameters); }
  template <class P>
  P& get() { return std::get<P>(parameters); }

  bool needs_classifications() const;
  int64_t sink() const;  // 0 for builders without a single sink (policy_file: per head)
  // {"builder": ..., <the builder's parameters>} as written to the results file.
  nlohmann::json params() const;
  // Builds the policy. `cls` may be null for uniform configurations; otherwise it must be the
  // model's classification record (layers x heads).
  Visibility build(int64_t layers, int64_t heads, const ClassificationFile* cls) const;
};

struct AblationGroup {
  std::string id, title;
};

struct AblationPlan {
  std::vector<AblationGroup> groups;  // in file order
  std::vector<AblationConfig> configs;  // in file order
  std::string reference_group = "B";
  bool needs_classifications() const;
};

// Parses TOML text (`source` names it in error messages). Throws Error.
AblationPlan parse_ablation_plan(const std::string& toml_text, const std::string& source);
AblationPlan load_ablation_plan(const std::string& path);
// Keeps only the listed group ids (order of the plan); Error on an id the plan lacks.
AblationPlan select_groups(const AblationPlan& plan, const std::vector<std::string>& ids);
// Splits "A,B, G" into {"A","B","G"}.
std::vector<std::string> split_group_list(const std::string& s);

}  // namespace headscope
