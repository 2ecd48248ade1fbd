// libFuzzer harness: the head_classifications.json reader.
#include <cstddef>
#include <cstdint>
#include <string>

#include "analyzer/classification_io.h"
#include "common/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = headscope::parse_classifications(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
    (void)f;
  } catch (const headscope::Error&) {
  }
  return 0;
}
