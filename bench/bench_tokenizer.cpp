// Tokeniser speed on one thread: WikiText-2 test (1.3 MB, the target: under 1 s) and
// book 10146, each with a fresh tokenizer (empty word cache: the honest cold figure) and again
// with the cache warm.
// Usage: bench_tokenizer [MODEL_DIR] [TEXT ...]   (defaults: the bundled model and texts)
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/text.h"
#include "model/tokenizer.h"

using namespace headscope;

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string src = HEADSCOPE_SOURCE_DIR;
    std::string model = argc > 1 ? argv[1] : src + "/models/neox-gutenberg-14m";
    std::vector<std::string> texts;
    for (int i = 2; i < argc; ++i) texts.push_back(argv[i]);
    if (texts.empty()) texts = {src + "/data/wikitext2-test.txt", src + "/data/pg19-10146.txt"};

    auto t0 = std::chrono::steady_clock::now();
    Tokenizer probe = Tokenizer::load(model);
    double load_s = seconds_since(t0);
    std::printf("tokenizer %s: load %.3f s, vocab %lld\n\n", model.c_str(), load_s,
                (long long)probe.vocab_size());
    std::printf("| %-28s | %-5s | %10s | %9s | %8s | %7s |\n", "text", "cache", "bytes", "tokens",
                "seconds", "MB/s");
    std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(30, '-').c_str(), std::string(7, '-').c_str(),
                std::string(12, '-').c_str(), std::string(11, '-').c_str(), std::string(10, '-').c_str(),
                std::string(9, '-').c_str());
    for (const std::string& path : texts) {
      std::string text = load_text(path, Newlines::Keep);
      std::string name = path.substr(path.find_last_of('/') + 1);
      Tokenizer tok = Tokenizer::load(model);  // fresh: empty word cache
      for (const char* mode : {"cold", "warm"}) {
        auto t = std::chrono::steady_clock::now();
        std::vector<int64_t> ids = tok.encode(text);
        double s = seconds_since(t);
        std::printf("| %-28s | %-5s | %10zu | %9zu | %8.3f | %7.2f |\n", name.c_str(), mode, text.size(),
                    ids.size(), s, text.size() / s / 1e6);
      }
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_tokenizer: error: %s\n", e.what());
    return 1;
  }
}
