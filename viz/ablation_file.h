// The ablation result file (schema "headscope.ablation/1", written by `headscope ablate`), as the
// figures read it.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "viz/json_input.h"

namespace headscope::viz {

inline constexpr const char* kAblationSchema = "headscope.ablation/1";

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

  std::vector<const AblationResult*> group(const std::string& g) const;
  bool has_group(const std::string& g) const { return !group(g).empty(); }
};

// Reads and validates an ablation file. Throws Error (one line, naming the file and field) on an
// unreadable, empty or malformed file, a wrong schema, or no usable result.
AblationFile read_ablation(const std::string& path);

}  // namespace headscope::viz
