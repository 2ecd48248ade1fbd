// headscope analyze: placeholder until its issue lands (replaced by the owner of this command).
#include "cli/commands.h"
#include "common/error.h"

namespace headscope::cli {

void register_analyze(CLI::App& app) {
  app.add_subcommand("analyze", "(not available in this build yet)")->callback([]() {
    throw Error("'analyze' is not available in this build yet");
  });
}

}  // namespace headscope::cli
