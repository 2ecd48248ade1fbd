// The ablation result file (schema "headscope.ablation/1", written by `headscope ablate`), as the
// figures read it.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "viz/json_input.h"

namespace headscope::viz {

inline constexpr const char* kAblationSchema = "headscope.ablation/1";
// The reference (StreamingLLM baseline) group when a file does not name one: the default of
// headaware/ablation_config.h, which files written before "reference_group" existed used.
inline constexpr const char* kDefaultReferenceGroup = "B";

// One entry of the file's group list ("groups": [{"id", "title"[, "colour"]}], written by
// `headscope ablate` from the ablation TOML), completed by the groups that only appear in results.
struct AblationGroupInfo {
  std::string id;
  std::string title;   // "" when the file has none
  std::string colour;  // "#rrggbb" when the file sets one, else ""
};

struct AblationResult {
  std::string name;
  std::string group;              // A, B, G, I, J, K or a user group
  double perplexity = 0;
  double accuracy = 0;            // NaN when absent
  double nominal_context = 0;     // NaN when absent
  double measured_context = 0;
  nlohmann::json params;          // builder parameters (object; may be empty)

  // params[key] as a number / string; NaN / "" when absent or of another type.
  double param_number(const char* key) const;
  std::string param_string(const char* key) const;
  // The nominal context in whole tokens: nominal_context, else params sink + window; NaN if
  // neither is known. Used to pair results of different groups "at equal context".
  double context_key() const;
};

struct AblationFile {
  std::string path;
  RunInfo info;
  double dense_perplexity = 0;    // NaN when the file has no dense reference
  double dense_accuracy = 0;      // NaN when absent
  bool has_dense() const { return dense_perplexity > 0; }
  std::string classifications;    // path as written in the file ("" when absent)
  std::vector<AblationResult> results;  // in file order; results without a perplexity left out
  std::vector<std::string> notes;       // what was left out and why
  // Every group with results, in the file's group-list order, then the others in order of first
  // appearance in "results". Colours and legend order follow this list.
  std::vector<AblationGroupInfo> groups;
  std::string reference_group = kDefaultReferenceGroup;  // "reference_group" of the file

  // The group's index in `groups` (groups.size() when absent).
  size_t group_index(const std::string& g) const;
  const AblationGroupInfo* group_info(const std::string& g) const;

  std::vector<const AblationResult*> group(const std::string& g) const;
  bool has_group(const std::string& g) const { return !group(g).empty(); }
};

// Reads and validates an ablation file. Throws Error (one line, naming the file and field) on an
// unreadable, empty or malformed file, a wrong schema, or no usable result.
AblationFile read_ablation(const std::string& path);

}  // namespace headscope::viz
