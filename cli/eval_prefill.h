// `headscope eval --protocol prefill --context-tokens N`: the prefill compression protocol
// (eval/prefill_eval.h) on the command line. Kept apart from cmd_eval.cpp, which only registers
// these options and hands over when --protocol is prefill.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

#include "cli/method_options.h"
#include "cli/runtime.h"
#include "compress/compressor.h"
#include "compress/prefill_press.h"

namespace headscope::cli {

// The protocol options; the presses' options (--compression-ratio, ...) are method options
// (cli/method_options.h).
// Version of eval's JSON (every protocol): 2 dropped decode's duplicated throughput_tok_s
// (= tokens_per_s) and total_s (= wall_s), and added schema_version and provenance.
inline constexpr int kEvalSchemaVersion = 2;

struct PrefillArgs {
  std::string protocol = "step";  // step | prefill
  int64_t context_tokens = -1;
};

void add_prefill_options(CLI::App* sub, PrefillArgs& a);
// Refuses prefill-only options and methods under the step protocol (one-line Error).
void check_step_protocol(const PrefillArgs& a, const MethodArgs& m, const std::string& method);
// Runs the prefill protocol for `method` (or, with compare_all, dense and every press) and
// prints the result; writes json_out atomically when non-empty.
void run_prefill_command(const RuntimeOptions& rt, const TextOptions& text, const std::string& method,
                         const MethodArgs& mopt, const PrefillArgs& a, bool compare_all,
                         const std::string& json_out);

}  // namespace headscope::cli
