// headscope bench: placeholder until its issue lands (replaced by the owner of this command).
#include "cli/commands.h"
#include "common/error.h"

namespace headscope::cli {

void register_bench(CLI::App& app) {
  app.add_subcommand("bench", "(not available in this build yet)")->callback([]() {
    throw Error("'bench' is not available in this build yet");
  });
}

}  // namespace headscope::cli
