// headscope tokenize: placeholder until its issue lands (replaced by the owner of this command).
#include "cli/commands.h"
#include "common/error.h"

namespace headscope::cli {

void register_tokenize(CLI::App& app) {
  app.add_subcommand("tokenize", "(not available in this build yet)")->callback([]() {
    throw Error("'tokenize' is not available in this build yet");
  });
}

}  // namespace headscope::cli
