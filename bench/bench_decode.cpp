// Token-by-token decoding speed and memory: dense KV cache vs StreamingLLM 4+508.
//  1. TPOT: dense vs streaming_llm(4, 508) over --tokens tokens (default 2048), `true` positions.
//  2. Memory: streaming_llm(4, 508) with `shifted` positions vs dense over --mem-tokens tokens
//     (default 20000; dense over --dense-mem-tokens, default the same), printing cache bytes and
//     RSS (or CUDA allocated bytes) every --trace-every steps: flat for streaming, growing for
//     dense; the PPL must stay finite.
// Usage: bench_decode [--model DIR] [--text FILE] [--tokens N] [--mem-tokens N]
//                     [--dense-mem-tokens N] [--trace-every K] [--part tpot|memory|all]
//                     [--device cpu|cuda] [--dtype f32|bf16|f16] [--threads T]
#include <CLI/CLI.hpp>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/cpu_runtime.h"
#include "common/error.h"
#include "common/text.h"
#include "compress/compressor.h"
#include "eval/decode_eval.h"
#include "model/model.h"
#include "model/tokenizer.h"

using namespace headscope;

namespace {

double mib(int64_t b) { return double(b) / (1024.0 * 1024.0); }

struct Args {
  std::string model = std::string(HEADSCOPE_SOURCE_DIR) + "/../shared/models/neox-gutenberg-70m";
  std::string text = std::string(HEADSCOPE_SOURCE_DIR) + "/data/pg19-10146.txt";
  int64_t tokens = 2048, mem_tokens = 20000, dense_mem_tokens = -1, trace_every = 2000;
  std::string part = "all", device = "cpu", dtype = "f32";
  int threads = 0;
};

// Parses the command line with CLI11 (as the main CLI); on --help or a bad argument prints the
// message and exits (0 for --help, non-zero otherwise).
Args parse(int argc, char** argv) {
  Args a;
  CLI::App app{"bench_decode: token-by-token decoding speed (TPOT) and memory, dense KV cache vs "
               "StreamingLLM 4+508"};
  app.add_option("--model", a.model, "GPT-NeoX model directory")->capture_default_str();
  app.add_option("--text", a.text, "UTF-8 text")->capture_default_str();
  app.add_option("--tokens", a.tokens, "tokens of the TPOT part")
      ->check(CLI::Range(int64_t(2), int64_t(1) << 24))->capture_default_str();
  app.add_option("--mem-tokens", a.mem_tokens, "tokens of the memory part (streaming)")
      ->check(CLI::Range(int64_t(2), int64_t(1) << 26))->capture_default_str();
  app.add_option("--dense-mem-tokens", a.dense_mem_tokens, "tokens of the memory part (dense; default --mem-tokens)")
      ->check(CLI::Range(int64_t(2), int64_t(1) << 26));
  app.add_option("--trace-every", a.trace_every, "memory trace every K steps")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 26))->capture_default_str();
  app.add_option("--part", a.part, "tpot, memory or all")->check(CLI::IsMember({"tpot", "memory", "all"}))
      ->capture_default_str();
  app.add_option("--device", a.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--dtype", a.dtype, "f32, bf16 or f16")->check(CLI::IsMember({"f32", "bf16", "f16"}))
      ->capture_default_str();
  app.add_option("--threads", a.threads, "CPU threads (0 = default; at most the CPUs of the affinity mask)")
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  if (a.dense_mem_tokens < 0) a.dense_mem_tokens = a.mem_tokens;
  return a;
}

std::vector<int64_t> tokens_of(const Args& a, int64_t n) {
  std::string text = load_text(a.text, Newlines::LF);
  // ~4.5 characters per token in this book; cut generously, the first n tokens are exact.
  text.resize(std::min<size_t>(text.size(), size_t(n) * 8 + 1000));
  std::vector<int64_t> ids = Tokenizer::load(a.model).encode(text);
  require(int64_t(ids.size()) >= n, a.text + " has only " + std::to_string(ids.size()) + " tokens");
  ids.resize(size_t(n));
  return ids;
}

EvalResult decode(const Model& m, const std::vector<int64_t>& ids, Compressor* c, PositionMode pm,
                  int64_t trace_every) {
  DecodeOptions d;
  d.compressor = c;
  d.positions = pm;
  d.trace_every = trace_every;
  d.progress = true;
  return evaluate_decode(m, ids, d);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Args a = parse(argc, argv);
    c10::InferenceMode guard;
    configure_cpu_runtime(checked_thread_count(a.threads));
    require(a.device != "cuda" || at::hasCUDA(), "--device cuda: no CUDA in this build or no GPU");
    require(a.device == "cuda" || a.dtype == "f32", "--dtype " + a.dtype + " is only supported with --device cuda");
    at::ScalarType dt = a.dtype == "bf16" ? at::kBFloat16 : a.dtype == "f16" ? at::kHalf : at::kFloat;
    at::Device dev = a.device == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
    Model m = Model::load(a.model, dev, dt);
    std::printf("model %s (%lld params), device %s/%s, %d threads\n", a.model.c_str(),
                (long long)m.num_parameters(), a.device.c_str(), a.dtype.c_str(), at::get_num_threads());

    if (a.part != "memory") {
      std::vector<int64_t> ids = tokens_of(a, a.tokens);
      auto s = make_streaming_llm(4, 508);
      EvalResult dense = decode(m, ids, nullptr, PositionMode::True, 0);
      EvalResult str = decode(m, ids, s.get(), PositionMode::True, 0);
      std::printf("\nTPOT over %lld tokens (positions true)\n", (long long)a.tokens);
      std::printf("| %-22s | %9s | %9s | %9s | %8s | %11s | %10s |\n", "method", "PPL", "TTFT ms",
                  "TPOT ms", "tok/s", "final cache", "cache MiB");
      std::printf("|------------------------|-----------|-----------|-----------|----------|-------------|------------|\n");
      for (auto* r : {&dense, &str}) {
        std::printf("| %-22s | %9.3f | %9.2f | %9.3f | %8.1f | %11lld | %10.2f |\n",
                    r == &dense ? "dense" : "streaming_llm 4+508", r->ppl,
                    1e3 * r->extra["ttft_s"].get<double>(), 1e3 * r->extra["tpot_s"].get<double>(),
                    r->tokens_per_s, (long long)r->extra["final_cache_size"].get<int64_t>(),
                    mib(r->extra["cache_bytes"].get<int64_t>()));
      }
      std::fflush(stdout);
    }
    if (a.part != "tpot") {
      const int64_t n = std::max(a.mem_tokens, a.dense_mem_tokens);
      std::vector<int64_t> ids = tokens_of(a, n);
      auto s = make_streaming_llm(4, 508);
      std::vector<int64_t> sid(ids.begin(), ids.begin() + a.mem_tokens);
      std::vector<int64_t> did(ids.begin(), ids.begin() + a.dense_mem_tokens);
      EvalResult str = decode(m, sid, s.get(), PositionMode::Shifted, a.trace_every);
      EvalResult dense = decode(m, did, nullptr, PositionMode::True, a.trace_every);
      const bool cuda = dev.is_cuda();
      std::printf("\nMemory while decoding (streaming_llm 4+508 positions shifted, dense positions true)\n");
      std::printf("| %7s | %16s | %16s | %18s | %18s |\n", "step", "stream cache MiB", "dense cache MiB",
                  cuda ? "stream CUDA MiB" : "stream RSS MiB", cuda ? "dense CUDA MiB" : "dense RSS MiB");
      std::printf("|---------|------------------|------------------|--------------------|--------------------|\n");
      const auto& ts = str.extra["trace"];
      const auto& td = dense.extra["trace"];
      const size_t rows = std::max(ts.size(), td.size());
      const char* memkey = cuda ? "cuda_bytes" : "rss_bytes";
      for (size_t i = 0; i < rows; ++i) {
        const nlohmann::json& e = i < ts.size() ? ts[i] : td[i];
        auto cell = [&](const nlohmann::json& t, const char* key) {
          char b[32];
          if (i < t.size() && t[i].contains(key)) std::snprintf(b, sizeof b, "%.2f", mib(t[i][key].get<int64_t>()));
          else std::snprintf(b, sizeof b, "-");
          return std::string(b);
        };
        std::printf("| %7lld | %16s | %16s | %18s | %18s |\n", (long long)e["step"].get<int64_t>(),
                    cell(ts, "cache_bytes").c_str(), cell(td, "cache_bytes").c_str(),
                    cell(ts, memkey).c_str(), cell(td, memkey).c_str());
      }
      for (auto* r : {&str, &dense}) {
        const bool is_s = r == &str;
        std::printf("%-28s %6lld tokens: PPL %.3f (%s), TPOT %.3f ms, final cache %lld, cache peak %.2f MiB, "
                    "peak %s %.1f MiB\n",
                    is_s ? "streaming_llm 4+508 shifted" : "dense true", (long long)r->tokens, r->ppl,
                    std::isfinite(r->ppl) ? "finite" : "NOT FINITE", 1e3 * r->extra["tpot_s"].get<double>(),
                    (long long)r->extra["final_cache_size"].get<int64_t>(),
                    mib(r->extra["cache_bytes_peak"].get<int64_t>()), cuda ? "CUDA" : "RSS",
                    mib(r->extra[cuda ? "cuda_peak_bytes" : "rss_peak_bytes"].get<int64_t>()));
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_decode: error: %s\n", e.what());
    return 1;
  }
}
