// eval's per-method options, built from the compressor and press registries
// (compress/registry.h): one command-line flag per distinct option flag of any registered
// method, its help listing every method that takes it; the values are kept as typed and
// converted by the registry against the chosen method's declaration, so an option that does
// not apply to the chosen method is refused (a usage error, exit 2).
#pragma once
#include <CLI/CLI.hpp>

#include <map>
#include <string>
#include <vector>

#include "compress/registry.h"

namespace headscope::cli {

struct MethodArgs {
  std::map<std::string, std::string> given;  // flag (no dashes) -> value as typed
  std::vector<int64_t> skip_layers;          // --skip-layers (compressors)
  bool has(const std::string& flag) const { return given.count(flag) > 0; }
};

// Registers --method's help and every registry flag plus --skip-layers on `sub`.
void add_method_options(CLI::App* sub, MethodArgs& a);
// "dense | streaming_llm | ... ; prefill presses: knorm | ...": --method's help.
std::string method_help();

// The options given for a compressor / a press (all of them: the registry refuses those that do
// not apply).
MethodOptions compressor_options(const MethodArgs& a);
MethodOptions press_options(const MethodArgs& a);
// The same, restricted to the flags `method` takes (for --compare-all, where an option applies
// to some of the methods). Refuses a flag that none of `methods` takes.
MethodOptions compressor_options_for(const MethodArgs& a, const std::string& method);
MethodOptions press_options_for(const MethodArgs& a, const std::string& method);
void check_applies_to_some(const MethodArgs& a, const std::vector<std::string>& methods, bool presses,
                           const std::string& what);
// dense takes no method option.
void check_dense(const MethodArgs& a);

// Throws UsageError(msg): one line, exit status 2 (cli/main.cpp).
[[noreturn]] void usage_error(const std::string& msg);

}  // namespace headscope::cli
