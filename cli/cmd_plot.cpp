// headscope plot: placeholder until its issue lands (replaced by the owner of this command).
#include "cli/commands.h"
#include "common/error.h"

namespace headscope::cli {

void register_plot(CLI::App& app) {
  app.add_subcommand("plot", "(not available in this build yet)")->callback([]() {
    throw Error("'plot' is not available in this build yet");
  });
}

}  // namespace headscope::cli
