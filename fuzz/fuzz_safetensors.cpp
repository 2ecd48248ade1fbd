// libFuzzer harness: the safetensors header parser (lengths, JSON, dtypes, shapes, offsets,
// overlaps, duplicate keys) on arbitrary bytes. Error is the expected outcome for bad input;
// anything else (a crash, a sanitizer report, another exception) is a bug.
#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto views = headscope::parse_safetensors(data, size, "fuzz.safetensors");
    for (const auto& v : views) {
      // every view must lie inside the input
      const auto* p = static_cast<const uint8_t*>(v.data);
      if (v.nbytes > 0 && (p < data || p + v.nbytes > data + size)) __builtin_trap();
      volatile uint8_t sink = v.nbytes ? p[v.nbytes - 1] : 0;
      (void)sink;
    }
  } catch (const headscope::Error&) {
  }
  return 0;
}
