// headscope: one CLI for analyze | eval | ablate | plot | bench.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/commands.h"
#include <c10/util/Exception.h>

#include "common/error.h"

int main(int argc, char** argv) {
  CLI::App app{"headscope " HEADSCOPE_VERSION
               ": attention-head analysis and KV-cache compression for GPT-NeoX models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "headscope " HEADSCOPE_VERSION);
  headscope::cli::register_eval(app);
  headscope::cli::register_analyze(app);
  headscope::cli::register_ablate(app);
  headscope::cli::register_plot(app);
  headscope::cli::register_bench(app);
  headscope::cli::register_tokenize(app);
  headscope::cli::register_sweep(app);
  headscope::cli::register_allocate(app);
  headscope::cli::register_report(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const headscope::UsageError& e) {  // usage errors exit 2
    std::fprintf(stderr, "headscope: error: %s\n", e.what());
    return 2;
  } catch (const headscope::Error& e) {
    std::fprintf(stderr, "headscope: error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "headscope: error: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "headscope: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
