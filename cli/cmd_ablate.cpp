// headscope ablate: placeholder until its issue lands (replaced by the owner of this command).
#include "cli/commands.h"
#include "common/error.h"

namespace headscope::cli {

void register_ablate(CLI::App& app) {
  app.add_subcommand("ablate", "(not available in this build yet)")->callback([]() {
    throw Error("'ablate' is not available in this build yet");
  });
}

}  // namespace headscope::cli
