// bench_forward: parallel forward speed of a model (any supported architecture) against a plain
// matmul measured in the same run. Prints a table: tokens/s, achieved GFLOP/s (useful causal
// FLOPs, GQA-aware) and the ratio to the matmul rate.
//   bench_forward [--model DIR] [--tokens 2048] [--device cpu|cuda] [--dtype f32|bf16|f16]
//                 [--threads N] [--reps 5] [--query-block 256] [--random-llama DIR]
// --random-llama DIR writes a Llama with SmolLM-135M's shape (30 layers, hidden 576, 9 query
// heads over 3 KV heads, head_dim 64, intermediate 1536, vocab 49152, tied embeddings) and
// seeded random weights into DIR (created; F32, ~540 MB) and benchmarks it.
#include <CLI/CLI.hpp>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "common/blas_info.h"
#include "common/cpu_runtime.h"
#include "common/error.h"
#include "eval/parallel_eval.h"
#include "model/model.h"
#include "model/parallel_attention.h"

using namespace headscope;
using Clock = std::chrono::steady_clock;

// SmolLM-135M's shape with seeded random weights (std 0.02, norms 1), written as config.json +
// model.safetensors into dir.
static void write_random_llama(const std::string& dir) {
  const int64_t L = 30, d = 576, H = 9, KV = 3, D = 64, I = 1536, V = 49152;
  std::filesystem::create_directories(dir);
  nlohmann::json cfg = {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"},
                        {"hidden_size", d}, {"intermediate_size", I}, {"num_attention_heads", H},
                        {"num_key_value_heads", KV}, {"head_dim", D}, {"num_hidden_layers", L},
                        {"vocab_size", V}, {"rms_norm_eps", 1e-5}, {"rope_theta", 10000.0},
                        {"max_position_embeddings", 8192}, {"hidden_act", "silu"},
                        {"tie_word_embeddings", true}};
  std::ofstream(dir + "/config.json") << cfg.dump(2);
  at::manual_seed(0);
  std::map<std::string, at::Tensor> w;
  auto rnd = [](std::vector<int64_t> s) { return at::randn(s) * 0.02; };
  w["model.embed_tokens.weight"] = rnd({V, d});
  w["model.norm.weight"] = at::ones({d});
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    w[p + "input_layernorm.weight"] = at::ones({d});
    w[p + "post_attention_layernorm.weight"] = at::ones({d});
    w[p + "self_attn.q_proj.weight"] = rnd({H * D, d});
    w[p + "self_attn.k_proj.weight"] = rnd({KV * D, d});
    w[p + "self_attn.v_proj.weight"] = rnd({KV * D, d});
    w[p + "self_attn.o_proj.weight"] = rnd({d, H * D});
    w[p + "mlp.gate_proj.weight"] = rnd({I, d});
    w[p + "mlp.up_proj.weight"] = rnd({I, d});
    w[p + "mlp.down_proj.weight"] = rnd({d, I});
  }
  nlohmann::json header = nlohmann::json::object();
  uint64_t off = 0;
  for (auto& [name, t] : w) {
    const uint64_t nb = uint64_t(t.numel()) * 4;
    header[name] = {{"dtype", "F32"}, {"shape", t.sizes().vec()}, {"data_offsets", {off, off + nb}}};
    off += nb;
  }
  const std::string h = header.dump();
  const uint64_t n = h.size();
  std::ofstream f(dir + "/model.safetensors", std::ios::binary);
  f.write(reinterpret_cast<const char*>(&n), 8);
  f.write(h.data(), std::streamsize(h.size()));
  for (auto& [name, t] : w) {
    at::Tensor c = t.contiguous();
    f.write(static_cast<const char*>(c.data_ptr()), std::streamsize(c.numel() * 4));
  }
}

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
  app.add_option("--model", model_dir, "model directory (any supported architecture)")->capture_default_str();
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
  std::string random_llama;
  app.add_option("--random-llama", random_llama,
                 "write a SmolLM-135M-shaped Llama with seeded random weights into DIR and benchmark it");
  CLI11_PARSE(app, argc, argv);
  if (!random_llama.empty()) {
    write_random_llama(random_llama);
    model_dir = random_llama;
  }
  require(device != "cuda" || at::hasCUDA(), "--device cuda: no CUDA in this build or no GPU");
  require(device == "cuda" || dtype == "f32", "--dtype " + dtype + " is only supported with --device cuda");
  configure_cpu_runtime(checked_thread_count(threads));
  c10::InferenceMode guard;
  at::Device dev = device == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  at::ScalarType dt = dtype == "bf16" ? at::kBFloat16 : dtype == "f16" ? at::kHalf : at::kFloat;
  Model m = Model::load(model_dir, dev, dt);
  const auto& c = m.config();
  const double d = c.hidden_size, I = c.intermediate_size, V = c.vocab_size, L = c.num_layers;
  const double qd = double(c.num_heads * c.head_dim()), kvd = double(c.num_kv_heads * c.head_dim());

  // Useful FLOPs of one causal forward over T tokens (+ logits for all positions): q, k, v and
  // output projections (GQA: k and v have KV heads), the MLP (two matrices, three for SwiGLU),
  // and QK^T + PV over the causal triangle for every query head.
  const double mlp_mats = c.mlp == MlpKind::SwiGLU ? 3.0 : 2.0;
  const double linear = 2.0 * T * (L * (d * qd + 2 * d * kvd + qd * d + mlp_mats * d * I) + V * d);
  const double attn = L * 2.0 * 2.0 * qd * (double(T) * (T + 1) / 2.0);
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
