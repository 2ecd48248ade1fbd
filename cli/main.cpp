// headscope: one CLI for analyze | eval | ablate | plot | bench | ...
// Conventions: every error is one line "headscope: error: ..." on stderr; usage errors (options
// CLI11 rejects, options that cannot go together) exit with status 2, other failures with 1.
#include <CLI/CLI.hpp>

#include <c10/util/Exception.h>

#include <cstdio>
#include <regex>
#include <string>

#include "cli/commands.h"
#include "common/build_info.h"
#include "common/error.h"
#include "common/progress.h"

namespace {

// "Value -1 not in range 0 to 1797693134862315708145...": CLI11 prints a one-sided range
// (NonNegativeNumber, PositiveNumber) with std::to_string of DBL_MAX or DBL_MIN.
std::string readable_ranges(std::string msg) {
  static const std::regex range("not in range (\\S+) to (\\S+)");
  std::smatch m;
  if (!std::regex_search(msg, m, range)) return msg;
  double lo = 0, hi = 0;
  try {
    lo = std::stod(m[1].str());
    hi = std::stod(m[2].str());
  } catch (const std::exception&) {
    return msg;
  }
  std::string lo_s = m[1].str(), hi_s = m[2].str();
  auto trim = [](std::string s) {  // 300.000000 -> 300
    if (s.find('.') != std::string::npos) {
      while (!s.empty() && s.back() == '0') s.pop_back();
      if (!s.empty() && s.back() == '.') s.pop_back();
    }
    return s;
  };
  std::string what;
  if (hi > 1e300 && lo > 0 && lo < 1e-300) what = "must be greater than 0";
  else if (hi > 1e300) what = "must be at least " + trim(lo_s);
  else what = "must be between " + trim(lo_s) + " and " + trim(hi_s);
  return m.prefix().str() + what + m.suffix().str();
}

std::string one_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::string out;
  for (char c : s) {
    if (c == '\n') out += "; ";
    else out += c;
  }
  return out;
}

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "headscope: error: %s\n", one_line(readable_ranges(msg)).c_str());
  return 2;
}

std::string command_names(const CLI::App& app) {
  std::string s;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    s += (s.empty() ? "" : ", ") + sub->get_name();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"headscope " + std::string(headscope::headscope_version()) +
               ": attention-head analysis and KV-cache compression for GPT-NeoX and Llama-family "
               "models"};
  // Settings every subcommand inherits when it is created: help shows each option's default;
  // global options (--quiet) may also follow the subcommand.
  app.option_defaults()->always_capture_default();
  app.fallthrough();
  app.require_subcommand(1);
  app.set_version_flag("--version", headscope::version_line(),
                       "print the version, the git commit and the libtorch version, and exit");
  app.add_flag_callback("--quiet,-q", [] { headscope::Progress::set_quiet(true); },
                        "no progress output on stderr (errors and warnings are still printed)");
  headscope::cli::register_eval(app);
  headscope::cli::register_analyze(app);
  headscope::cli::register_ablate(app);
  headscope::cli::register_plot(app);
  headscope::cli::register_bench(app);
  headscope::cli::register_tokenize(app);
  headscope::cli::register_sweep(app);
  headscope::cli::register_allocate(app);
  headscope::cli::register_report(app);
  // The command is the first argument that is not an option (global options are flags).
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (!a.empty() && a[0] == '-') continue;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
      known = known || sub->check_name(a);
    if (!known)
      return usage_error("unknown command '" + a + "' (commands: " + command_names(app) + ")");
    break;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    if (dynamic_cast<const CLI::RequiredError*>(&e) && app.get_subcommands().empty())
      return usage_error("no command given (commands: " + command_names(app) + "; --help for more)");
    return usage_error(e.what());
  } catch (const headscope::UsageError& e) {
    return usage_error(e.what());
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
