// The registry of compression methods: every method declares itself once, in its own file, with
// its name, one-line help, typed options (type, default, range, help) and factory. Everything
// else is built from it: eval's --method choices, its per-method options and their help,
// --compare-all's list, the validation of option values, the refusal of an option that does not
// apply to the chosen method, and the contract test (tests/test_compress_contract.cpp), which
// runs every registered method.
//
// Two registries of the same shape, because the two kinds of method have different interfaces:
//  - compressors (compress/compressor.h): run on the KV cache after every decoding step
//    (`--protocol step`) or once after a prefill; registered with HEADSCOPE_REGISTER_COMPRESSOR;
//  - prefill presses (compress/prefill_press.h): kvpress's scorer presses, run once on the
//    prefilled context (`--protocol prefill --compression-ratio R`); registered with
//    HEADSCOPE_REGISTER_PRESS. Every press takes the common option --compression-ratio.
// A name may be in both (streaming_llm): the protocol and --compression-ratio choose.
//
// Adding a method = one new file compress/NAME.cpp holding the class and one registration.
// Registration runs from static initialisers; the headscope_core archive is linked whole
// (CMakeLists.txt), so a file nothing else references is not dropped by the linker.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/error.h"

namespace headscope {

class Compressor;
class PrefillPress;

// A value given for an option: typed (from C++) or text (from the command line, parsed against
// the option's type).
using OptionValue = std::variant<int64_t, double, std::string>;

enum class OptionType { Int, Double, Choice, Text };  // Text: any string (checked by the factory)

// One option of a method. `flag` is its command-line spelling without the dashes
// ("keep-ratio"); several methods may declare the same flag with their own default and help.
struct OptionSpec {
  std::string flag;
  OptionType type = OptionType::Int;
  OptionValue default_value;           // of the option's type
  std::optional<double> min, max;      // inclusive bounds (Int, Double)
  bool min_exclusive = false, max_exclusive = false;
  std::vector<std::string> choices;    // Choice
  std::string help;
};

// Spec helpers for the registrations.
OptionSpec int_option(std::string flag, int64_t def, std::optional<double> min,
                      std::optional<double> max, std::string help);
OptionSpec real_option(std::string flag, double def, std::optional<double> min,
                       std::optional<double> max, std::string help);
OptionSpec choice_option(std::string flag, std::string def, std::vector<std::string> choices,
                         std::string help);
OptionSpec text_option(std::string flag, std::string def, std::string help);

// The options given for one method: flag -> value. Flags absent take their default.
struct MethodOptions {
  std::map<std::string, OptionValue> values;
  std::vector<int64_t> skip_layers;  // compressors only: layers never compressed

  MethodOptions& set(const std::string& flag, OptionValue v) {
    values[flag] = std::move(v);
    return *this;
  }
  bool empty() const { return values.empty() && skip_layers.empty(); }
};

// The resolved options a factory reads: every declared flag, typed, range-checked.
class ResolvedOptions {
 public:
  int64_t integer(const std::string& flag) const;
  double real(const std::string& flag) const;
  const std::string& text(const std::string& flag) const;
  bool given(const std::string& flag) const;  // given explicitly (not the default)

  std::map<std::string, OptionValue> values;
  std::map<std::string, bool> explicit_;
};

struct CompressorInfo {
  std::string name;
  std::string help;  // one line
  std::vector<OptionSpec> options;
  std::function<std::unique_ptr<Compressor>(const ResolvedOptions&)> factory;
  int rank = 100;           // position in listings and --compare-all (ascending, then name)
  bool compare_all = true;  // run by eval --compare-all
};

struct PressInfo {
  std::string name;
  std::string help;
  std::vector<OptionSpec> options;  // besides --compression-ratio, which every press takes
  // `ratio` is the validated --compression-ratio; `inner` the press named by the option
  // `inner_press_flag` (built from the same options), for presses that wrap another.
  std::function<std::unique_ptr<PrefillPress>(const ResolvedOptions&, double ratio,
                                              std::unique_ptr<PrefillPress> inner)>
      factory;
  int rank = 100;
  std::string inner_press_flag;  // e.g. "adakv-press"; empty: none
};

// Registration (used by the macros; returns true so it can initialise a static).
bool register_compressor(CompressorInfo info);
bool register_press(PressInfo info);

#define HEADSCOPE_REGISTRY_CAT2(a, b) a##b
#define HEADSCOPE_REGISTRY_CAT(a, b) HEADSCOPE_REGISTRY_CAT2(a, b)
// In a compress/*.cpp at namespace scope: HEADSCOPE_REGISTER_COMPRESSOR(CompressorInfo{...});
#define HEADSCOPE_REGISTER_COMPRESSOR(...)                                                  \
  [[maybe_unused]] static const bool HEADSCOPE_REGISTRY_CAT(headscope_registered_, __LINE__) = \
      ::headscope::register_compressor(__VA_ARGS__)
#define HEADSCOPE_REGISTER_PRESS(...)                                                       \
  [[maybe_unused]] static const bool HEADSCOPE_REGISTRY_CAT(headscope_registered_, __LINE__) = \
      ::headscope::register_press(__VA_ARGS__)

// Every registered method, sorted by (rank, name).
std::vector<const CompressorInfo*> compressors();
std::vector<const PressInfo*> presses();
const CompressorInfo* find_compressor(const std::string& name);  // null: none
const PressInfo* find_press(const std::string& name);
// The option every press takes.
const OptionSpec& compression_ratio_option();

// Builds `method` from the given options. Throws Error (one line) on an unknown method, a value
// of the wrong type or out of range, or (NotApplicable) a flag the method does not declare.
std::unique_ptr<Compressor> make_compressor(const std::string& method, const MethodOptions& given);
// Presses: `given` must hold "compression-ratio" (else Error); skip_layers must be empty.
std::unique_ptr<PrefillPress> make_prefill_press(const std::string& method, const MethodOptions& given);

// A flag given that the chosen method does not declare: the CLI reports it as a usage error.
class OptionNotApplicable : public UsageError {
 public:
  using UsageError::UsageError;
};

// Flags `method` takes as a compressor or as a press. A wrapping press (adakv) takes its own and
// those of the press it wraps: the one `given` names (or its default), or with no `given` those
// of every press it can wrap.
std::vector<std::string> compressor_flags(const std::string& method);
std::vector<std::string> press_flags(const std::string& method, const MethodOptions* given = nullptr);

// Help text of every flag of a registry: "l2: ... (default 0.8); fix_size_l2: ... (default 0.2)".
std::string option_help(const std::string& flag);
// "2", "0.8", "every": an option value as the command line spells it.
std::string format_option_value(const OptionValue& v);

}  // namespace headscope
