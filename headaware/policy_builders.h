// Per-head window policies: builders that turn parameters (and a head classification file)
// into a Visibility (model/visibility.h: query i of a head with (S, W) sees key j <= i iff
// j < S or i - j < W; W = -1 full causal context, W = 0 a dead head that sees only itself).
//
// The builders reproduce the Python original's (kvcompress HeadAwareMaskGenerator) semantics
// and defaults exactly:
//   uniform(sink, window)                       every head the same (defaults 4, 508)
//   from_classifications(file, override, sink)  window = override[type], else the file's
//                                               recommended_window if > 0, else the default
//                                               table {positional 8, sink_positional 8,
//                                               true_positional 8, mixed 64, sink_mixed 24,
//                                               gathering -1, dead 0}, else 64
//   confidence(file, threshold, base, high, sink)
//                                               confidence >= threshold: high[type] (base if
//                                               the type is not listed); otherwise base.
//                                               Defaults 0.6, 128, {positional 16, mixed 64,
//                                               gathering 512}
//   inverse(file, base, gathering_window, gathering_threshold, sink)
//                                               gathering heads with confidence >= threshold:
//                                               gathering_window, all others base. Defaults
//                                               64, 256, 0.4
// The sink size defaults to 4 everywhere; a missing confidence counts as 0.5 (the default of
// HeadClassification, which read_classifications keeps when the field is absent).
//
// Type lookup: every table keyed by head type (override, defaults, high-confidence windows) is
// looked up with the head's type exactly first, then through its legacy alias
// (sink_positional, true_positional -> positional; sink_mixed -> mixed). So a table written
// for the published Pythia-2.8b file's legacy types ({positional, mixed, gathering}) also
// applies to headscope's refined types, and a table that names a refined type wins for it.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyzer/head_classification.h"
#include "model/visibility.h"

namespace headscope {

using WindowByType = std::map<std::string, int64_t>;

constexpr int64_t kDefaultSink = 4;

// Every head type a classification (old or refined schema) may carry.
const std::vector<std::string>& known_head_types();
bool is_known_head_type(const std::string& type);
// The legacy name of a refined type (sink_positional/true_positional -> positional,
// sink_mixed -> mixed); empty when the type has none.
std::string legacy_alias(const std::string& type);
// table[type] if present, else table[legacy_alias(type)] if present, else nullopt.
std::optional<int64_t> lookup_window(const WindowByType& table, const std::string& type);

// The Python original's DEFAULT_WINDOW_SIZES.
const WindowByType& default_type_windows();

// Throws Error unless window >= -1 and sink >= 0 (`what` names the parameter in the message).
void check_window(int64_t window, const std::string& what);
void check_sink(int64_t sink, const std::string& what);
void check_threshold(double t, const std::string& what);
// Throws Error if a key of `table` is not a known head type or a window is < -1.
void check_window_table(const WindowByType& table, const std::string& what);

struct UniformParams {
  int64_t sink = kDefaultSink;
  int64_t window = 508;
};
struct FromClassificationsParams {
  WindowByType window_override;
  int64_t sink = kDefaultSink;
};
struct ConfidenceParams {
  double threshold = 0.6;
  int64_t base_window = 128;
  WindowByType high_conf_windows = {{"positional", 16}, {"mixed", 64}, {"gathering", 512}};
  int64_t sink = kDefaultSink;
};
struct InverseParams {
  int64_t base_window = 64;
  int64_t gathering_window = 256;
  double gathering_confidence_threshold = 0.4;
  int64_t sink = kDefaultSink;
};

// The policy_file builder: a per-(layer, KV head) policy file (formats/policy_file.h).
struct PolicyFileParams {
  std::string file;
};

Visibility uniform_policy(int64_t layers, int64_t heads, const UniformParams& p);
Visibility from_classifications_policy(const ClassificationFile& f,
                                       const FromClassificationsParams& p);
Visibility confidence_policy(const ClassificationFile& f, const ConfidenceParams& p);
Visibility inverse_policy(const ClassificationFile& f, const InverseParams& p);

// The window from_classifications gives one head (exposed for tests and reports).
int64_t from_classifications_window(const HeadClassification& h, const WindowByType& override_);

// The original's nominal effective context: mean over heads of sink + window. Full-context
// heads count as `text_tokens` keys; the Python original used a fixed placeholder of 1024
// there (so its figure differs from ours only for policies with full heads and texts of other
// lengths). Dead heads count sink + 0, as in the original.
double nominal_context(const Visibility& v, int64_t text_tokens);

// Number of heads per window value, for reports ("w=128: 29" ...), ascending by window.
std::map<int64_t, int64_t> window_histogram(const Visibility& v);

// ---- the builder registry -----------------------------------------------------------------
// Every builder an ablation configuration (headaware/ablation_config.h) can name, with its typed
// parameters. Adding a builder: its parameter struct and an alternative of BuilderParams here,
// its function and one entry of the table in policy_builders.cpp. Names are looked up only
// here: an unknown builder is an Error, never another builder.
using BuilderParams =
    std::variant<UniformParams, FromClassificationsParams, ConfidenceParams, InverseParams, PolicyFileParams>;

enum class ParamKind { Int, Number, String, Windows };  // Windows: { <head type> = <window> }
using ParamValue = std::variant<int64_t, double, std::string, WindowByType>;

struct BuilderParam {
  std::string key;  // as written in the TOML file and the results' params
  ParamKind kind;
  std::function<void(BuilderParams&, const ParamValue&)> set;
  std::function<nlohmann::json(const BuilderParams&)> get;
};

struct BuilderInfo {
  std::string name;
  bool needs_classifications = true;
  BuilderParams defaults;  // a fresh configuration's parameters
  std::vector<BuilderParam> params;
  // Throws Error (naming the parameter) when a value cannot be right.
  std::function<void(const BuilderParams&)> validate;
  // `cls` is non-null (and of the model's shape) when needs_classifications.
  std::function<Visibility(const BuilderParams&, int64_t layers, int64_t heads,
                           const ClassificationFile* cls)>
      build;

  const BuilderParam* param(const std::string& key) const;  // null: not a parameter
  std::vector<std::string> param_keys() const;
};

const std::vector<BuilderInfo>& builders();
const std::vector<std::string>& known_builders();
// Throws Error("unknown builder 'x' (known: ...)").
const BuilderInfo& builder_info(const std::string& name);

}  // namespace headscope
