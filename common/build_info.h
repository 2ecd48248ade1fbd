// What this binary is: version, the git commit it was built from (read at build time by
// cmake/build_info.cmake; "unknown" outside a git checkout, "-dirty" with uncommitted changes),
// the libtorch it was compiled against, and the configs/*.toml embedded at build time (so the
// binary needs no source tree at run time).
#pragma once
#include <string>
#include <vector>

namespace headscope {

struct EmbeddedConfig {
  const char* name;  // file name in configs/, e.g. "ablation.toml"
  const char* text;
};

const char* git_commit();                                 // generated
const std::vector<EmbeddedConfig>& embedded_configs();    // generated

// "0.1.0"
const char* headscope_version();
// "1.13.0" (TORCH_VERSION at compile time)
const char* torch_version();
// The embedded configs/<name>; throws Error if there is none of that name.
std::string embedded_config(const std::string& name);
// "headscope 0.1.0 (commit 88e665d6a422), libtorch 1.13.0"
std::string version_line();

}  // namespace headscope
