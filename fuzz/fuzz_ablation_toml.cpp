// libFuzzer harness: the ablation experiment set (TOML) parser and validation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "headaware/ablation_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto plan = headscope::parse_ablation_plan(std::string(reinterpret_cast<const char*>(data), size), "fuzz.toml");
    (void)plan;
  } catch (const headscope::Error&) {
  }
  return 0;
}
