// Each subcommand lives in its own cli/cmd_<name>.cpp and registers itself here.
#pragma once
#include <CLI/CLI.hpp>

namespace headscope::cli {

// Each register_* adds a subcommand to `app`; its callback runs the command and may throw Error.
void register_eval(CLI::App& app);
void register_analyze(CLI::App& app);
void register_ablate(CLI::App& app);
void register_plot(CLI::App& app);
void register_bench(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_sweep(CLI::App& app);
void register_allocate(CLI::App& app);
void register_report(CLI::App& app);

}  // namespace headscope::cli
