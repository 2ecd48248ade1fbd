// libFuzzer harness: tokenizer.json loading (Tokenizer::load reads a file, so each input is
// written to a private temporary file first), then encoding and decoding a fixed text.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "common/error.h"
#include "model/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = [] {
    const char* t = std::getenv("TMPDIR");
    return std::string(t && *t ? t : "/tmp") + "/headscope-fuzz-tokenizer-" + std::to_string(::getpid()) + ".json";
  }();
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    headscope::Tokenizer t = headscope::Tokenizer::load(path);
    auto ids = t.encode("Hello, world! \xc3\xa9t\xc3\xa9  12 tabs\tand\nnewlines <|endoftext|>");
    (void)t.decode(ids);
  } catch (const headscope::Error&) {
  }
  ::unlink(path.c_str());
  return 0;
}
