// headscope bench NAME [ARGS...]: runs the benchmark program bench_NAME that is built next to the
// headscope binary (bench/*.cpp), passing ARGS through; its exit status becomes ours.
//   headscope bench forward --tokens 2048      (= build/bench_forward --tokens 2048)
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/error.h"

namespace headscope::cli {

namespace {
const std::vector<std::string> kBenches = {"forward", "tokenizer", "analyze", "ablate", "decode"};
}

void register_bench(CLI::App& app) {
  auto name = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "bench", "run a benchmark (forward, tokenizer, analyze, ablate, decode); extra arguments go to it");
  sub->add_option("name", *name, "benchmark name")->check(CLI::IsMember(kBenches));
  // Everything after the name goes to the benchmark, --help included (each parses its own
  // arguments with CLI11 and has its own help); `headscope bench --help` is this help.
  sub->set_help_flag();
  sub->prefix_command();
  sub->fallthrough(false);  // its arguments belong to the benchmark, not to headscope
  sub->callback([name, sub]() {
    if (name->empty()) {
      const auto rest = sub->remaining();
      if (!rest.empty() && (rest[0] == "--help" || rest[0] == "-h")) {
        std::printf("%s", sub->help().c_str());
        return;
      }
      throw Error("bench needs a benchmark name: forward, tokenizer, analyze, ablate or decode");
    }
    std::error_code ec;
    std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    require(!ec, "bench: cannot locate the headscope binary");
    const std::string prog = (self.parent_path() / ("bench_" + *name)).string();
    require(::access(prog.c_str(), X_OK) == 0,
            "bench: " + prog + " not found (build the bench targets: cmake --build build)");
    std::vector<std::string> args = {prog};
    for (const std::string& a : sub->remaining()) args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(prog.c_str(), argv.data());
    throw Error("bench: cannot run " + prog);
  });
}

}  // namespace headscope::cli
