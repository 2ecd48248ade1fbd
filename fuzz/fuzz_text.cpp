// libFuzzer harness: text decoding. Arbitrary bytes go through UTF-8 validation and, when valid,
// through the bundled model's tokenizer (NFC, pre-tokenisation regex, byte-level BPE) and back.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "common/text.h"
#include "model/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const headscope::Tokenizer tok =
      headscope::Tokenizer::load(std::string(HEADSCOPE_SOURCE_DIR) + "/models/neox-gutenberg-14m");
  const std::string s(reinterpret_cast<const char*>(data), size);
  try {
    headscope::validate_utf8(s, "fuzz");
  } catch (const headscope::Error&) {
    return 0;
  }
  try {
    auto ids = tok.encode(s);
    (void)tok.decode(ids);
  } catch (const headscope::Error&) {
  }
  return 0;
}
