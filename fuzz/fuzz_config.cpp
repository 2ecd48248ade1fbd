// libFuzzer harness: config.json parsing (ModelConfig::parse).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    headscope::ModelConfig c =
        headscope::ModelConfig::parse(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    (void)c;
  } catch (const headscope::Error&) {
  }
  return 0;
}
