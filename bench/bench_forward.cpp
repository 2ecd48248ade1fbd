// bench_forward: parallel forward speed of a GPT-NeoX model against a plain matmul measured in
// the same run. Prints a table: tokens/s, achieved GFLOP/s (useful causal FLOPs) and the ratio
// to the matmul rate.
//   bench_forward [--model DIR] [--tokens 2048] [--device cpu|cuda] [--dtype f32|bf16|f16]
//                 [--threads N] [--reps 5] [--query-block 256]
#include <CLI/CLI.hpp>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/blas_info.h"
#include "common/cpu_runtime.h"
#include "common/error.h"
#include "eval/parallel_eval.h"
#include "model/model.h"
#include "model/parallel_attention.h"

using namespace headscope;
using Clock = std::chrono::steady_clock;

static void sync(at::Device d) {
  if (d.is_cuda()) at::empty({1}, at::TensorOptions().device(d)).cpu();  // forces a sync
}

int main(int argc, char** argv) try {
  std::string model_dir = std::string(HEADSCOPE_SOURCE_DIR) + "/../shared/models/neox-gutenberg-70m";
  int64_t T = 2048;
  std::string device = "cpu", dtype = "f32";
  int threads = 0, reps = 5;
  int64_t qblock = 256;
  CLI::App app{"bench_forward: parallel forward speed (tokens/s, GFLOP/s) against a plain matmul "
               "measured in the same run"};
  app.add_option("--model", model_dir, "GPT-NeoX model directory")->capture_default_str();
  app.add_option("--tokens", T, "tokens per forward")->check(CLI::Range(int64_t(1), int64_t(1) << 20))
      ->capture_default_str();
  app.add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--dtype", dtype, "f32, bf16 or f16")->check(CLI::IsMember({"f32", "bf16", "f16"}))
      ->capture_default_str();
  app.add_option("--threads", threads, "CPU threads (0 = default; at most the CPUs of the affinity mask)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--reps", reps, "timed repetitions (best of)")->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--query-block", qblock, "queries per attention block")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20))->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  require(device != "cuda" || at::hasCUDA(), "--device cuda: no CUDA in this build or no GPU");
  require(device == "cuda" || dtype == "f32", "--dtype " + dtype + " is only supported with --device cuda");
  configure_cpu_runtime(checked_thread_count(threads));
  c10::InferenceMode guard;
  at::Device dev = device == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  at::ScalarType dt = dtype == "bf16" ? at::kBFloat16 : dtype == "f16" ? at::kHalf : at::kFloat;
  Model m = Model::load(model_dir, dev, dt);
  const auto& c = m.config();
  const double d = c.hidden_size, I = c.intermediate_size, V = c.vocab_size, L = c.num_layers;

  // Useful FLOPs of one causal forward over T tokens (+ logits for all positions).
  const double linear = 2.0 * T * (L * (4 * d * d + 2 * d * I) + V * d);
  const double attn = L * 2.0 * 2.0 * d * (double(T) * (T + 1) / 2.0);
  const double flops = linear + attn;

  at::Tensor ids = at::randint(0, c.vocab_size, {T}, at::TensorOptions().dtype(at::kLong));
  ParallelAttentionOptions po;
  po.query_block = qblock;
  auto run = [&]() {
    at::Tensor h = m.forward_hidden(ids, parallel_attention(m, po));
    for (int64_t s = 0; s < T; s += 512) m.logits(h.narrow(0, s, std::min<int64_t>(512, T - s)));
    sync(dev);
  };
  // What `headscope eval` runs: the same forward, then NLL and argmax of every position.
  at::Tensor targets = ids.roll(-1);
  auto run_scored = [&]() {
    at::Tensor h = m.forward_hidden(ids, parallel_attention(m, po));
    m.score(h, targets);
    sync(dev);
  };
  auto time_best = [&](const auto& fn) {
    fn();  // warm-up
    double b = 1e30;
    for (int r = 0; r < reps; ++r) {
      auto t0 = Clock::now();
      fn();
      b = std::min(b, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    return b;
  };
  const double best = time_best(run);
  const double best_scored = time_best(run_scored);

  // Plain matmul in the same dtype/device: [T x d] @ [d x 4d] (the MLP's shape).
  at::Tensor a = at::randn({T, (int64_t)d}, at::TensorOptions().dtype(dt).device(dev));
  at::Tensor b = at::randn({(int64_t)d, (int64_t)I}, at::TensorOptions().dtype(dt).device(dev));
  at::matmul(a, b);
  sync(dev);
  double mm_best = 1e30;
  for (int r = 0; r < reps * 4; ++r) {
    auto t0 = Clock::now();
    at::matmul(a, b);
    sync(dev);
    mm_best = std::min(mm_best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  const double mm_gflops = 2.0 * T * d * I / mm_best / 1e9;

  std::printf("model: %s (%lld params), device %s/%s, threads %d\nBLAS: %s\n", model_dir.c_str(),
              (long long)m.num_parameters(), device.c_str(), dtype.c_str(), at::get_num_threads(),
              blas_description().c_str());
  std::printf("query block %lld\n", (long long)qblock);
  std::printf("| run | tokens | seconds (best of %d) | tokens/s | GFLOP | GFLOP/s | matmul GFLOP/s | ratio |\n", reps);
  std::printf("|---|---|---|---|---|---|---|---|\n");
  auto row = [&](const char* what, double secs) {
    const double g = flops / secs / 1e9;
    std::printf("| %s | %lld | %.4f | %.0f | %.1f | %.1f | %.1f | %.0f%% |\n", what, (long long)T,
                secs, double(T) / secs, flops / 1e9, g, mm_gflops, 100.0 * g / mm_gflops);
  };
  row("forward (logits)", best);
  row("forward + NLL (eval)", best_scored);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_forward: error: %s\n", e.what());
  return 1;
}
