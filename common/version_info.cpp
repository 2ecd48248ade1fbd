#include <torch/version.h>

#include "common/build_info.h"
#include "common/error.h"

namespace headscope {

const char* headscope_version() { return HEADSCOPE_VERSION; }
const char* torch_version() { return TORCH_VERSION; }

std::string embedded_config(const std::string& name) {
  std::string names;
  for (const auto& c : embedded_configs()) {
    if (name == c.name) return c.text;
    names += (names.empty() ? "" : ", ") + std::string(c.name);
  }
  throw Error("no built-in config '" + name + "' (built in: " + names + ")");
}

std::string version_line() {
  return std::string("headscope ") + headscope_version() + " (commit " + git_commit() +
         "), libtorch " + torch_version();
}

}  // namespace headscope
