// bench_analyze: time of `headscope analyze`'s core (forward with the statistics observer,
// per-head reductions, classification) on N tokens, next to the plain forward over the same
// chunks without an observer. Token ids are random (speed does not depend on them).
//   bench_analyze [--model DIR] [--tokens 2048] [--chunk-size 512] [--context chunks|full]
//                 [--device cpu|cuda] [--dtype f32|bf16|f16] [--threads N] [--reps 3]
// Default model: ../shared/models/neox-gutenberg-70m. For the Pythia-2.8b goal, point --model
// at a 2.8b-shaped directory and use --device cuda --tokens 1024.
#include <CLI/CLI.hpp>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "analyzer/analyzer.h"
#include "common/cpu_runtime.h"
#include "common/error.h"
#include "model/model.h"
#include "model/parallel_attention.h"

using namespace headscope;
using Clock = std::chrono::steady_clock;

static void sync(at::Device d) {
  if (d.is_cuda()) at::empty({1}, at::TensorOptions().device(d)).cpu();  // forces a sync
}

int main(int argc, char** argv) try {
  std::string model_dir = std::string(HEADSCOPE_SOURCE_DIR) + "/../shared/models/neox-gutenberg-70m";
  int64_t T = 2048, chunk = 512;
  std::string device = "cpu", dtype = "f32", context = "chunks";
  int threads = 0, reps = 3;
  CLI::App app{"bench_analyze: time of headscope analyze's core (forward with the statistics "
               "observer, reductions, classification) next to the plain forward"};
  app.add_option("--model", model_dir, "GPT-NeoX model directory")->capture_default_str();
  app.add_option("--tokens", T, "tokens analysed")->check(CLI::Range(int64_t(2), int64_t(1) << 20))
      ->capture_default_str();
  app.add_option("--chunk-size", chunk, "tokens per chunk")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20))->capture_default_str();
  app.add_option("--context", context, "chunks or full")->check(CLI::IsMember({"chunks", "full"}))
      ->capture_default_str();
  app.add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--dtype", dtype, "f32, bf16 or f16")->check(CLI::IsMember({"f32", "bf16", "f16"}))
      ->capture_default_str();
  app.add_option("--threads", threads, "CPU threads (0 = default; at most the CPUs of the affinity mask)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--reps", reps, "timed repetitions (best of)")->check(CLI::Range(1, 1000))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  configure_cpu_runtime(checked_thread_count(threads));
  c10::InferenceMode guard;
  require(device == "cpu" || device == "cuda", "--device must be cpu or cuda");
  require(device != "cuda" || at::hasCUDA(), "--device cuda: no CUDA in this build or no GPU");
  at::Device dev = device == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  at::ScalarType dt = dtype == "bf16" ? at::kBFloat16 : dtype == "f16" ? at::kHalf : at::kFloat;
  Model m = Model::load(model_dir, dev, dt);
  const auto& c = m.config();

  at::Tensor ids_t = at::randint(0, c.vocab_size, {T}, at::TensorOptions().dtype(at::kLong));
  std::vector<int64_t> ids(ids_t.data_ptr<int64_t>(), ids_t.data_ptr<int64_t>() + T);
  AnalysisOptions opt;
  opt.chunk_size = chunk;
  opt.context = parse_context_mode(context);

  // Plain forward over the same chunks (no observer), for the observer's overhead.
  auto plain = [&]() {
    ParallelAttentionOptions po;
    if (opt.context == ContextMode::Full) {
      po.query_block = chunk;
      m.forward_hidden(ids_t, parallel_attention(m, po));
    } else {
      for (int64_t s = 0; s < T; s += chunk) {
        const int64_t n = std::min(chunk, T - s);
        if (n < opt.min_chunk_tokens) continue;
        po.query_block = n;
        m.forward_hidden(ids_t.narrow(0, s, n), parallel_attention(m, po));
      }
    }
    sync(dev);
  };
  auto analyze = [&]() {
    AnalysisResult r = analyze_heads(m, ids, opt);
    sync(dev);
    return r;
  };
  plain();    // warm-up
  analyze();  // warm-up
  double best_plain = 1e30, best = 1e30;
  AnalysisResult last;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    plain();
    best_plain = std::min(best_plain, std::chrono::duration<double>(Clock::now() - t0).count());
    t0 = Clock::now();
    last = analyze();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::printf("bench_analyze: %s (%lld layers x %lld heads), %s/%s, context %s, chunk %lld, best of %d\n",
              model_dir.c_str(), (long long)c.num_layers, (long long)c.num_heads, device.c_str(),
              dtype.c_str(), context.c_str(), (long long)chunk, reps);
  std::printf("%-8s %-7s %-9s %-12s %-12s %-12s %-9s\n", "tokens", "chunks", "threads",
              "forward_s", "analyze_s", "tokens/s", "overhead");
  std::printf("%-8lld %-7zu %-9d %-12.4f %-12.4f %-12.1f %-9.2f\n", (long long)T,
              last.chunks.size(), at::get_num_threads(), best_plain, best, double(T) / best,
              best / best_plain);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_analyze: error: %s\n", e.what());
  return 1;
}
