// bench_ablate: speed of the parallel mask engine on the seeds' ablation set.
//
// Default: the full seed set (29 configurations of configs/ablation.toml) on the first 1000
// tokens of data/pg19-10146.txt (LF) with ../shared/models/neox-gutenberg-70m on the CPU: total
// time, and per configuration tokens/s against the dense parallel forward's tokens/s.
//
//   bench_ablate [--model DIR | --random-model pythia-2.8b|pythia-70m|pythia-14m]
//                [--tokens 1000] [--device cpu|cuda] [--dtype f32|bf16|f16] [--threads N]
//                [--classifications FILE] [--seed 0] [--config FILE] [--groups A,B,...]
//                [--query-block N] [--repeat R] [--text FILE]
//   bench_ablate --long N [--long-config B_streaming_512] ...   peak RSS over N tokens
//
// Without --classifications a classification record of the model's shape is generated
// deterministically from --seed (Pythia-2.8b's type proportions: 36.1% positional, 55.3% mixed,
// 8.6% gathering; confidences drawn like the published file's); the output says so.
// --random-model writes a model directory of that Pythia shape with random weights (fp16,
// seeded) under $TMPDIR, for GPU speed runs where no checkpoint is available.
// --long N repeats the text's tokens up to N and runs one windowed configuration; run it alone
// (peak RSS is the process's peak).
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyzer/head_classification.h"
#include "common/cpu_runtime.h"
#include "common/error.h"
#include "common/text.h"
#include "headaware/ablation_config.h"
#include "headaware/ablation_runner.h"
#include "headaware/policy_builders.h"
#include "model/model.h"
#include "model/tokenizer.h"

using namespace headscope;

namespace {

struct Args {
  std::string model = std::string(HEADSCOPE_SOURCE_DIR) + "/../shared/models/neox-gutenberg-70m";
  std::string random_model;
  std::string text = std::string(HEADSCOPE_SOURCE_DIR) + "/data/pg19-10146.txt";
  std::string config = std::string(HEADSCOPE_SOURCE_DIR) + "/configs/ablation.toml";
  std::string classifications, groups, device = "cpu", dtype = "f32";
  std::string long_config = "B_streaming_512";
  int64_t tokens = 1000, long_tokens = 0, query_block = 0;
  int threads = 0, repeat = 1;
  uint64_t seed = 0;
};

// Parses the command line with CLI11 (as the main CLI); on --help or a bad argument prints the
// message and exits (0 for --help, non-zero otherwise).
Args parse(int argc, char** argv) {
  Args a;
  CLI::App app{"bench_ablate: speed of the parallel mask engine on the ablation set (see the "
               "comment at the top of bench/bench_ablate.cpp)"};
  app.add_option("--model", a.model, "GPT-NeoX model directory")->capture_default_str();
  app.add_option("--random-model", a.random_model, "random-weight model of this Pythia shape")
      ->check(CLI::IsMember({"pythia-2.8b", "pythia-70m", "pythia-14m"}));
  app.add_option("--text", a.text, "UTF-8 text")->capture_default_str();
  app.add_option("--config", a.config, "ablation TOML")->capture_default_str();
  app.add_option("--classifications", a.classifications, "head_classifications.json");
  app.add_option("--groups", a.groups, "comma-separated group ids");
  app.add_option("--device", a.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--dtype", a.dtype, "f32, bf16 or f16")->check(CLI::IsMember({"f32", "bf16", "f16"}))
      ->capture_default_str();
  app.add_option("--tokens", a.tokens, "tokens")->check(CLI::Range(int64_t(2), int64_t(1) << 24))
      ->capture_default_str();
  app.add_option("--long", a.long_tokens, "peak-RSS run over N tokens (0 = off)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 26));
  app.add_option("--long-config", a.long_config, "configuration of the --long run")->capture_default_str();
  app.add_option("--query-block", a.query_block, "queries per attention block (0 = auto)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 20));
  app.add_option("--threads", a.threads, "CPU threads (0 = default; at most the CPUs of the affinity mask)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--repeat", a.repeat, "repetitions (median)")->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--seed", a.seed, "seed of the generated classification record / random model");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  return a;
}

double peak_rss_mb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // Linux: KiB
}

// CPU time of this process (all threads), seconds: on a shared machine the wall clock says
// more about the neighbours than about the code.
double cpu_seconds() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

double current_rss_mb() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  f >> pages >> resident;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// ---- synthetic inputs --------------------------------------------------------------------------

// A classification record of the model's shape, deterministic in `seed`, with the published
// Pythia-2.8b file's type proportions and confidence ranges (mixed heads all 0.5).
ClassificationFile synthetic_classifications(int64_t layers, int64_t heads, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  ClassificationFile f;
  f.num_layers = layers;
  f.num_heads = heads;
  for (int64_t l = 0; l < layers; ++l)
    for (int64_t h = 0; h < heads; ++h) {
      HeadClassification c;
      c.layer = l;
      c.head = h;
      double r = u(rng);
      if (r < 370.0 / 1024) {
        c.type = "positional";
        c.confidence = 0.025 + 0.975 * u(rng);
        c.recommended_window = 8;
        c.can_limit_window = true;
      } else if (r < (370.0 + 88.0) / 1024) {
        c.type = "gathering";
        c.confidence = 0.011 + 0.579 * u(rng);
      } else {
        c.type = "mixed";
        c.confidence = 0.5;
      }
      f.heads.push_back(c);
    }
  return f;
}

struct Shape {
  int64_t hidden, heads, layers, inter;
};

// Writes config.json + model.safetensors (fp16, N(0, 0.02) weights, unit LayerNorms) of a
// Pythia shape into a fresh directory and returns it.
std::string write_random_model(const std::string& name, uint64_t seed) {
  Shape s;
  if (name == "pythia-2.8b") s = {2560, 32, 32, 10240};
  else if (name == "pythia-1b") s = {2048, 8, 16, 8192};
  else if (name == "pythia-70m") s = {512, 8, 6, 2048};
  else if (name == "pythia-14m") s = {128, 4, 6, 512};
  else throw Error("--random-model: unknown shape '" + name + "' (pythia-2.8b, pythia-1b, pythia-70m, pythia-14m)");
  const int64_t V = 50304, d = s.hidden, I = s.inter;
  auto dir = std::filesystem::temp_directory_path() /
             ("headscope-random-" + name + "-" + std::to_string(seed));
  std::filesystem::create_directories(dir);
  nlohmann::json cfg = {{"architectures", {"GPTNeoXForCausalLM"}}, {"model_type", "gpt_neox"},
                        {"hidden_act", "gelu"},  {"hidden_size", d},
                        {"intermediate_size", I}, {"layer_norm_eps", 1e-5},
                        {"max_position_embeddings", 2048}, {"num_attention_heads", s.heads},
                        {"num_hidden_layers", s.layers}, {"rotary_emb_base", 10000},
                        {"rotary_pct", 0.25},    {"tie_word_embeddings", false},
                        {"use_parallel_residual", true}, {"vocab_size", V}};
  std::ofstream(dir / "config.json") << cfg.dump(1) << "\n";

  std::vector<std::pair<std::string, std::vector<int64_t>>> tensors;
  tensors.push_back({"gpt_neox.embed_in.weight", {V, d}});
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "gpt_neox.layers." + std::to_string(l) + ".";
    for (const char* ln : {"input_layernorm", "post_attention_layernorm"}) {
      tensors.push_back({p + ln + ".weight", {d}});
      tensors.push_back({p + ln + ".bias", {d}});
    }
    tensors.push_back({p + "attention.query_key_value.weight", {3 * d, d}});
    tensors.push_back({p + "attention.query_key_value.bias", {3 * d}});
    tensors.push_back({p + "attention.dense.weight", {d, d}});
    tensors.push_back({p + "attention.dense.bias", {d}});
    tensors.push_back({p + "mlp.dense_h_to_4h.weight", {I, d}});
    tensors.push_back({p + "mlp.dense_h_to_4h.bias", {I}});
    tensors.push_back({p + "mlp.dense_4h_to_h.weight", {d, I}});
    tensors.push_back({p + "mlp.dense_4h_to_h.bias", {d}});
  }
  tensors.push_back({"gpt_neox.final_layer_norm.weight", {d}});
  tensors.push_back({"gpt_neox.final_layer_norm.bias", {d}});
  tensors.push_back({"embed_out.weight", {V, d}});

  nlohmann::json header = nlohmann::json::object();
  size_t off = 0;
  for (const auto& [n, shape] : tensors) {
    size_t numel = 1;
    for (auto x : shape) numel *= size_t(x);
    header[n] = {{"dtype", "F16"}, {"shape", shape}, {"data_offsets", {off, off + 2 * numel}}};
    off += 2 * numel;
  }
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';
  std::ofstream out(dir / "model.safetensors", std::ios::binary);
  uint64_t hl = h.size();
  out.write(reinterpret_cast<const char*>(&hl), 8);
  out.write(h.data(), std::streamsize(h.size()));
  at::manual_seed(seed);
  for (const auto& [n, shape] : tensors) {
    const bool ln_w = n.find("layernorm.weight") != std::string::npos;
    const bool bias = n.size() > 5 && n.compare(n.size() - 5, 5, ".bias") == 0;
    at::Tensor t = ln_w ? at::ones(shape) : bias ? at::zeros(shape) : at::randn(shape).mul_(0.02);
    t = t.to(at::kHalf).contiguous();
    out.write(static_cast<const char*>(t.data_ptr()), std::streamsize(t.nbytes()));
  }
  require(out.good(), "cannot write " + (dir / "model.safetensors").string());
  return dir.string();
}

std::vector<int64_t> text_tokens(const std::string& model_dir, const std::string& text) {
  std::string tok_src = std::filesystem::exists(model_dir + "/tokenizer.json")
                            ? model_dir
                            : std::string(HEADSCOPE_SOURCE_DIR) + "/models/neox-gutenberg-14m";
  return Tokenizer::load(tok_src).encode(load_text(text, Newlines::LF));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  try {
    c10::InferenceMode guard;
    configure_cpu_runtime(checked_thread_count(a.threads));
    at::Device dev = at::kCPU;
    if (a.device == "cuda") {
      require(at::hasCUDA(), "--device cuda: this libtorch has no CUDA or no GPU is visible");
      dev = at::Device(at::kCUDA, 0);
    } else {
      require(a.device == "cpu", "--device must be cpu or cuda");
    }
    at::ScalarType dt = a.dtype == "bf16" ? at::kBFloat16 : a.dtype == "f16" ? at::kHalf : at::kFloat;
    require(a.dtype == "f32" || a.dtype == "bf16" || a.dtype == "f16", "--dtype must be f32, bf16 or f16");
    require(dev.is_cuda() || dt == at::kFloat, "--dtype " + a.dtype + " needs --device cuda");

    std::string model_dir = a.model;
    auto t_load = std::chrono::steady_clock::now();
    if (!a.random_model.empty()) {
      std::printf("writing a random-weight %s model (seed %llu) ...\n", a.random_model.c_str(),
                  (unsigned long long)a.seed);
      std::fflush(stdout);
      model_dir = write_random_model(a.random_model, a.seed);
    }
    Model model = Model::load(model_dir, dev, dt);
    const auto& mc = model.config();
    double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
    std::vector<int64_t> all = text_tokens(model_dir, a.text);

    ClassificationFile cls;
    std::string cls_note;
    if (!a.classifications.empty()) {
      cls = read_classifications(a.classifications);
      check_classifications_match(cls, mc.num_layers, mc.num_heads, a.classifications);
      cls_note = a.classifications;
    } else {
      cls = synthetic_classifications(mc.num_layers, mc.num_heads, a.seed);
      int64_t np = 0, nm = 0, ng = 0;
      for (const auto& h : cls.heads) (h.type == "positional" ? np : h.type == "mixed" ? nm : ng)++;
      cls_note = "SYNTHETIC (no --classifications): generated from seed " + std::to_string(a.seed) +
                 " with Pythia-2.8b's type proportions: " + std::to_string(np) + " positional, " +
                 std::to_string(nm) + " mixed, " + std::to_string(ng) + " gathering";
    }
    AblationPlan plan = select_groups(load_ablation_plan(a.config), split_group_list(a.groups));

    std::printf("model            %s (%lld layers x %lld heads, %.1fM params, loaded in %.1f s)\n",
                model_dir.c_str(), (long long)mc.num_layers, (long long)mc.num_heads,
                double(model.num_parameters()) / 1e6, load_s);
    std::printf("device           %s/%s, %d CPU threads\n", a.device.c_str(), a.dtype.c_str(),
                at::get_num_threads());
    std::printf("classifications  %s\n", cls_note.c_str());

    if (a.long_tokens > 0) {
      // ---- long text: memory of one windowed configuration ---------------------------------
      const AblationConfig* cfg = nullptr;
      for (const auto& c : plan.configs)
        if (c.name == a.long_config) cfg = &c;
      require(cfg != nullptr, "--long-config: no configuration '" + a.long_config + "'");
      std::vector<int64_t> ids;
      while (int64_t(ids.size()) < a.long_tokens)
        ids.insert(ids.end(), all.begin(), all.begin() + std::min<int64_t>(all.size(), a.long_tokens - ids.size()));
      const bool repeated = a.long_tokens > int64_t(all.size());
      double rss0 = current_rss_mb();
      AblationRecord r = evaluate_config(model, ids, *cfg, &cls, a.query_block);
      double peak = peak_rss_mb();
      std::printf("text             %s: %lld tokens%s\n", a.text.c_str(), (long long)ids.size(),
                  repeated ? " (the text's tokens repeated to reach this length)" : "");
      std::printf("configuration    %s %s, query block %lld\n", cfg->name.c_str(),
                  cfg->params().dump().c_str(),
                  (long long)(a.query_block > 0 ? a.query_block : auto_query_block(int64_t(ids.size()), dev.is_cuda())));
      std::printf("ppl              %.3f (accuracy %.4f), measured context %.1f\n", r.perplexity,
                  r.accuracy, r.measured_context);
      std::printf("time             %.2f s (%.0f tok/s)\n", r.wall_s, r.tokens_per_s);
      std::printf("RSS              %.0f MiB after loading, peak %.0f MiB (%.2f GiB)\n", rss0, peak,
                  peak / 1024.0);
      const double dense_scores_gib = double(mc.num_heads) * double(ids.size()) * double(ids.size()) * 4.0 / (1u << 30);
      std::printf("for scale        one layer's full T x T float32 attention scores would be %.1f GiB\n",
                  dense_scores_gib);
      return 0;
    }

    // ---- the ablation set --------------------------------------------------------------------
    require(int64_t(all.size()) >= a.tokens, "the text has only " + std::to_string(all.size()) + " tokens");
    std::vector<int64_t> ids(all.begin(), all.begin() + a.tokens);
    std::printf("text             %s, first %lld tokens\n", a.text.c_str(), (long long)a.tokens);
    std::printf("query block      %lld, repeats %d (median)\n\n",
                (long long)(a.query_block > 0 ? a.query_block : auto_query_block(a.tokens, dev.is_cuda())), a.repeat);
    (void)evaluate_dense(model, ids, a.query_block);  // warm-up
    std::vector<double> dts, dcpu;
    DenseRecord dense;
    for (int i = 0; i < a.repeat; ++i) {
      double c0 = cpu_seconds();
      dense = evaluate_dense(model, ids, a.query_block);
      dcpu.push_back(cpu_seconds() - c0);
      dts.push_back(dense.tokens_per_s);
    }
    const double dense_tps = median(dts), dense_cpu = median(dcpu);
    std::printf("%-24s %9s %9s %10s %8s %8s %8s\n", "configuration", "context", "ppl", "tok/s",
                "vs dense", "CPU s", "vs dense");
    std::printf("%-24s %9lld %9.3f %10.0f %7.2fx %8.3f %7.2fx\n", "dense (parallel forward)",
                (long long)a.tokens, dense.perplexity, dense_tps, 1.0, dense_cpu, 1.0);
    auto t0 = std::chrono::steady_clock::now();
    const double cpu0 = cpu_seconds();
    double slowest = 1e300, fastest = 0;
    for (const auto& c : plan.configs) {
      std::vector<double> ts, cs;
      AblationRecord r;
      for (int i = 0; i < a.repeat; ++i) {
        double c0 = cpu_seconds();
        r = evaluate_config(model, ids, c, &cls, a.query_block);
        cs.push_back(cpu_seconds() - c0);
        ts.push_back(r.tokens_per_s);
      }
      const double tps = median(ts), cpu = median(cs);
      slowest = std::min(slowest, tps);
      fastest = std::max(fastest, tps);
      std::printf("%-24s %9.1f %9.3f %10.0f %7.2fx %8.3f %7.2fx\n", c.name.c_str(),
                  r.measured_context, r.perplexity, tps, tps / dense_tps, cpu, dense_cpu / cpu);
      std::fflush(stdout);
    }
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double total_cpu = cpu_seconds() - cpu0;
    std::printf("\n%zu configurations x %d run(s) in %.2f s wall, %.2f s CPU (%.3f s wall per "
                "configuration run)\n",
                plan.configs.size(), a.repeat, total, total_cpu,
                total / double(plan.configs.size() * a.repeat));
    std::printf("tokens/s per configuration: %.0f .. %.0f (dense %.0f); 'vs dense' of CPU s = "
                "dense CPU time / configuration CPU time\n", slowest, fastest, dense_tps);
    std::printf("peak RSS %.0f MiB\n", peak_rss_mb());
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_ablate: error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "bench_ablate: error: %s\n", e.what_without_backtrace());
    return 1;
  }
  return 0;
}
