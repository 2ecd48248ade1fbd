// Tokeniser speed on one thread, per tokenizer family: WikiText-2 test (1.3 MB) by default, each
// text with a fresh tokenizer (empty word cache: the honest cold figure) and again with the cache
// warm; --runs N repeats and reports medians.
// Usage: bench_tokenizer [--tokenizer DIR]... [--text FILE]... [--runs N]
//   (defaults: the bundled GPT-NeoX model and every family under ../shared/tokenizers, WikiText-2)
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
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
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}
}  // namespace

int main(int argc, char** argv) {
  const std::string src = HEADSCOPE_SOURCE_DIR;
  std::vector<std::string> toks, texts;
  int runs = 3;
  CLI::App app{"bench_tokenizer: tokeniser speed (MB/s) on one thread, per tokenizer, cold and warm cache"};
  app.add_option("--tokenizer", toks, "tokenizer directory or tokenizer.json (repeatable)");
  app.add_option("--text", texts, "UTF-8 text file (repeatable; newlines kept as they are)");
  app.add_option("--runs", runs, "repetitions; medians are reported")->check(CLI::Range(1, 100))->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "bench_tokenizer: error: %s\n", e.what());
    return 2;
  }
  try {
    if (toks.empty()) {
      toks.push_back(src + "/models/neox-gutenberg-14m");
      std::error_code ec;
      const std::string shared = src + "/../shared";
      for (const char* f : {"llama2-spm", "phi3-mini", "mistral-v0.1", "qwen2.5", "llama3"})
        if (std::filesystem::exists(shared + "/tokenizers/" + f, ec)) toks.push_back(shared + "/tokenizers/" + f);
      if (std::filesystem::exists(shared + "/models/llama-tinystories-656k", ec))
        toks.push_back(shared + "/models/llama-tinystories-656k");
    }
    if (texts.empty()) texts = {src + "/data/wikitext2-test.txt"};
    std::printf("one thread, %d run(s), medians; cold = fresh tokenizer (empty word cache)\n\n", runs);
    std::printf("| %-24s | %-20s | %9s | %9s | %9s | %9s |\n", "tokenizer", "text", "bytes", "tokens",
                "cold MB/s", "warm MB/s");
    std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(26, '-').c_str(), std::string(22, '-').c_str(),
                std::string(11, '-').c_str(), std::string(11, '-').c_str(), std::string(11, '-').c_str(),
                std::string(11, '-').c_str());
    for (const std::string& tpath : toks) {
      std::string tname = std::filesystem::path(tpath).filename().string();
      if (tname == "tokenizer.json") tname = std::filesystem::path(tpath).parent_path().filename().string();
      for (const std::string& path : texts) {
        const std::string text = load_text(path, Newlines::Keep);
        const std::string name = std::filesystem::path(path).filename().string();
        std::vector<double> cold, warm;
        size_t n = 0;
        for (int r = 0; r < runs; ++r) {
          Tokenizer tok = Tokenizer::load(tpath);  // fresh: empty word cache
          auto t = std::chrono::steady_clock::now();
          n = tok.encode(text).size();
          cold.push_back(text.size() / seconds_since(t) / 1e6);
          t = std::chrono::steady_clock::now();
          tok.encode(text);
          warm.push_back(text.size() / seconds_since(t) / 1e6);
        }
        std::printf("| %-24s | %-20s | %9zu | %9zu | %9.2f | %9.2f |\n", tname.c_str(), name.c_str(), text.size(),
                    n, median(cold), median(warm));
        std::fflush(stdout);
      }
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_tokenizer: error: %s\n", e.what());
    return 1;
  }
}
