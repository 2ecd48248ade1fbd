// headscope eval: perplexity and next-token accuracy of a model on a text, either with one
// parallel forward (dense, the default) or token by token over a real KV cache that a
// compression method prunes after every step (PPL, accuracy, TTFT, TPOT, throughput, cache size,
// peak memory), or every method at once (--compare-all).
#include <cstdio>

#include "cli/commands.h"
#include "cli/runtime.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "compress/compressor.h"
#include "eval/decode_eval.h"
#include "eval/parallel_eval.h"
#include "eval/policy_eval.h"
#include "formats/policy_file.h"

namespace headscope::cli {

namespace {

struct EvalArgs {
  RuntimeOptions rt;
  TextOptions text;
  std::string json_out;
  std::string method = "dense";
  std::string positions = "true";
  bool decode = false;
  bool compare_all = false;
  CompressorOptions copt;
  std::string seed_str;
  std::string policy;  // --policy FILE: a per-(layer, KV head) policy on the real cache
};

double mib(int64_t b) { return double(b) / (1024.0 * 1024.0); }

const char* positions_help(PositionMode m) {
  switch (m) {
    case PositionMode::True: return "each query rotated at its position in the text";
    case PositionMode::Cache: return "query rotated at the cache length (the Python original's convention)";
    case PositionMode::Shifted: return "keys cached un-rotated, re-rotated by slot index (StreamingLLM shift)";
  }
  return "";
}

// Peak memory of one run: CUDA allocator peak on a GPU, else the process's peak RSS.
std::string peak_memory(const EvalResult& r) {
  char b[64];
  if (r.extra.contains("cuda_peak_bytes"))
    std::snprintf(b, sizeof b, "%.1f MiB (CUDA)", mib(r.extra["cuda_peak_bytes"].get<int64_t>()));
  else if (r.extra.contains("rss_peak_bytes") && r.extra["rss_peak_bytes"].get<int64_t>() >= 0)
    std::snprintf(b, sizeof b, "%.1f MiB (RSS)", mib(r.extra["rss_peak_bytes"].get<int64_t>()));
  else
    std::snprintf(b, sizeof b, "n/a");
  return b;
}

EvalResult run_one(const Model& model, const std::vector<int64_t>& ids, const std::string& method,
                   const CompressorOptions& copt, PositionMode pm, bool decode) {
  if (method == "dense" && !decode) {
    EvalResult r = evaluate_parallel(model, ids);
    r.extra["decode"] = false;
    return r;
  }
  std::unique_ptr<Compressor> c;
  if (method != "dense") c = make_compressor(method, copt);
  DecodeOptions d;
  d.positions = pm;
  d.compressor = c.get();
  d.progress = true;
  return evaluate_decode(model, ids, d);
}

std::string method_label(const EvalResult& r) {
  if (!r.extra.contains("compressor") || r.method == "dense") return r.method;
  std::string s = r.method + "(";
  bool first = true;
  for (auto& [k, v] : r.extra["compressor"].items()) {
    if (k == "method" || (k == "skip_layers" && v.empty())) continue;
    s += (first ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    first = false;
  }
  return s + ")";
}

void print_one(const EvalResult& r) {
  const bool dec = r.extra.value("decode", false);
  std::printf("method     %s\n", method_label(r).c_str());
  std::printf("positions  %s (%s)\n", r.positions.c_str(),
              positions_help(parse_position_mode(r.positions)));
  std::printf("engine     %s\n", dec ? "token-by-token decode over a KV cache"
                                     : "parallel forward");
  std::printf("tokens     %lld (%lld predictions)\n", (long long)r.tokens, (long long)r.tokens - 1);
  std::printf("ppl        %.4f\n", r.ppl);
  std::printf("accuracy   %.4f\n", r.accuracy);
  std::printf("wall       %.3f s\n", r.wall_s);
  std::printf("tokens/s   %.1f\n", r.tokens_per_s);
  if (!dec) return;
  std::printf("ttft       %.2f ms\n", 1e3 * r.extra["ttft_s"].get<double>());
  std::printf("tpot       %.2f ms (mean, first token excluded)\n", 1e3 * r.extra["tpot_s"].get<double>());
  std::string per_layer;
  for (auto& v : r.extra["final_cache_per_layer"]) per_layer += (per_layer.empty() ? "" : " ") + v.dump();
  std::printf("final cache %lld entries (per layer: %s)\n",
              (long long)r.extra["final_cache_size"].get<int64_t>(), per_layer.c_str());
  std::printf("cache mem  %.2f MiB allocated at the end, %.2f MiB peak\n",
              mib(r.extra["cache_bytes"].get<int64_t>()), mib(r.extra["cache_bytes_peak"].get<int64_t>()));
  std::printf("peak mem   %s\n", peak_memory(r).c_str());
}

void print_table(const std::vector<EvalResult>& rs) {
  std::printf("\n%-46s %9s %7s %9s %9s %8s %11s %17s\n", "method", "PPL", "acc", "TTFT ms",
              "TPOT ms", "tok/s", "final cache", "peak mem");
  for (const auto& r : rs) {
    std::printf("%-46s %9.3f %6.2f%% %9.2f %9.2f %8.1f %11lld %17s\n", method_label(r).c_str(), r.ppl,
                100.0 * r.accuracy, 1e3 * r.extra["ttft_s"].get<double>(),
                1e3 * r.extra["tpot_s"].get<double>(), r.tokens_per_s,
                (long long)r.extra["final_cache_size"].get<int64_t>(), peak_memory(r).c_str());
  }
}

// eval --policy FILE: the policy on the real cache (window_policy), with its measured context.
void run_policy_file(const RuntimeOptions& rt, const TextOptions& text, const std::string& path,
                     PositionMode pm, const std::string& json_out) {
  PolicyFile pf = PolicyFile::load(path);
  const std::string warn = pf.check_model(PolicyModel::from_model_dir(rt.model), path);
  if (!warn.empty()) std::fprintf(stderr, "headscope: warning: %s\n", warn.c_str());
  Model model = load_model(rt);
  int64_t total = 0;
  std::vector<int64_t> ids = load_tokens(rt.model, text, &total);
  std::printf("model      %s (%lld params)\n", rt.model.c_str(), (long long)model.num_parameters());
  std::printf("text       %s (%lld tokens, newlines=%s)\n", text.text.c_str(), (long long)total,
              text.newlines.c_str());
  std::printf("device     %s\n", describe_device(rt).c_str());
  std::printf("policy     %s (%s, hash %s)\n", path.c_str(), pf.name.c_str(),
              pf.policy_hash().substr(0, 12).c_str());
  PolicyDecodeOptions po;
  po.positions = pm;
  po.progress = true;
  EvalResult r = evaluate_policy_decode(model, ids, pf.policy, po);
  print_one(r);
  const int64_t q = r.extra["measured_context_queries"].get<int64_t>();
  std::printf("context    %.2f keys per query measured on the cache (mask engine: %.2f; %lld "
              "queries, every layer and KV head)\n",
              r.extra["measured_context"].get<double>(), pf.policy.measured_context(q),
              (long long)q);
  std::printf("cache used %.2f MiB in valid entries at the end (%lld entries; max %lld)\n",
              mib(r.extra["cache_used_bytes"].get<int64_t>()),
              (long long)r.extra["cache_entries"].get<int64_t>(),
              (long long)r.extra["max_cache_entries"].get<int64_t>());
  if (json_out.empty()) return;
  nlohmann::json j = {{"model", rt.model},
                      {"text", text.text},
                      {"newlines", text.newlines},
                      {"device", describe_device(rt)},
                      {"policy_file", path},
                      {"policy_name", pf.name},
                      {"policy_hash", pf.policy_hash()}};
  for (auto& [k, v] : r.to_json().items()) j[k] = v;
  write_file_atomic(json_out, j.dump(1) + "\n");
}

}  // namespace

void register_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* sub = app.add_subcommand(
      "eval", "perplexity, next-token accuracy, speed and memory of a model on a text, dense or "
              "with a KV-cache compression method");
  add_runtime_options(sub, args->rt);
  add_text_options(sub, args->text, 2048);
  auto& o = args->copt;
  sub->add_option("--method", args->method,
                  "dense | streaming_llm | recent_only | l2 | fix_size_l2")
      ->capture_default_str();
  sub->add_option("--positions", args->positions,
                  "rotary positions: true (text position), cache (cache length, the Python "
                  "original's), shifted (re-rotated by slot index)")
      ->check(CLI::IsMember({"true", "cache", "shifted"}))->capture_default_str();
  sub->add_flag("--decode", args->decode, "dense: decode token by token over a KV cache instead of one parallel forward");
  sub->add_flag("--compare-all", args->compare_all, "run dense and every method with its defaults (plus the options given) and print one table");
  sub->add_option("--start-size", o.start_size, "streaming_llm: attention sinks kept")->capture_default_str();
  sub->add_option("--recent-size", o.recent_size, "streaming_llm: recent entries kept")->capture_default_str();
  sub->add_option("--window", o.window, "recent_only: entries kept")->capture_default_str();
  sub->add_option("--keep-ratio", o.keep_ratio, "l2: share of entries kept (default 0.8); fix_size_l2: protected recent share of --fix-kv-size (default 0.2)");
  sub->add_option("--prune-after", o.prune_after, "l2: compress only when a head holds more entries")->capture_default_str();
  sub->add_option("--l2-mode", o.l2_mode, "l2: every (after every step, as the Python original) or once (first time only, as the KnormPress paper)")
      ->capture_default_str();
  sub->add_option("--fix-kv-size", o.fix_kv_size, "fix_size_l2: cache size kept")->capture_default_str();
  sub->add_option("--strategy", o.strategy, "fix_size_l2: keep_low | keep_high | random")->capture_default_str();
  sub->add_option("--seed", args->seed_str, "fix_size_l2 random: generator seed (default 0)");
  sub->add_option("--skip-layers", o.skip_layers, "layers never compressed, e.g. 0,1")->delimiter(',');
  sub->add_option("--policy", args->policy,
                  "policy file (headscope.policy/1, from ablate --export-policy or allocate): "
                  "evaluate it on the real KV cache, token by token");
  sub->add_option("--json", args->json_out, "write the result(s) as JSON to this file");
  sub->callback([args]() {
    if (!args->seed_str.empty()) {
      try {
        size_t used = 0;
        args->copt.seed = std::stoull(args->seed_str, &used);
        require(used == args->seed_str.size() && args->seed_str[0] != '-', "");
      } catch (...) {
        throw Error("--seed must be a non-negative integer, got '" + args->seed_str + "'");
      }
    }
    const PositionMode pm = parse_position_mode(args->positions);
    // Validate the method and its options before loading anything.
    const std::vector<std::string> all = {"dense", "streaming_llm", "recent_only", "l2", "fix_size_l2"};
    if (args->compare_all) {
      for (size_t i = 1; i < all.size(); ++i) make_compressor(all[i], args->copt);
    } else if (args->method != "dense") {
      make_compressor(args->method, args->copt);
    }
    if (!args->policy.empty()) {
      require(args->method == "dense" && !args->compare_all,
              "--policy cannot be combined with --method or --compare-all");
      run_policy_file(args->rt, args->text, args->policy, pm, args->json_out);
      return;
    }
    Model model = load_model(args->rt);
    for (int64_t l : args->copt.skip_layers)
      require(l < model.config().num_layers,
              "--skip-layers: layer " + std::to_string(l) + " does not exist (the model has " +
                  std::to_string(model.config().num_layers) + " layers)");
    int64_t total = 0;
    std::vector<int64_t> ids = load_tokens(args->rt.model, args->text, &total);
    std::printf("model      %s (%lld params)\n", args->rt.model.c_str(),
                (long long)model.num_parameters());
    std::printf("text       %s (%lld tokens, newlines=%s)\n", args->text.text.c_str(),
                (long long)total, args->text.newlines.c_str());
    std::printf("device     %s\n", describe_device(args->rt).c_str());
    // dense with non-true positions is the same computation, but say what was asked for
    const bool decode = args->decode || pm != PositionMode::True;

    nlohmann::json j = {{"model", args->rt.model},
                        {"text", args->text.text},
                        {"newlines", args->text.newlines},
                        {"device", describe_device(args->rt)}};
    if (args->compare_all) {
      std::printf("positions  %s (%s)\ntokens     %lld (%lld predictions), token-by-token decode\n",
                  to_string(pm), positions_help(pm), (long long)ids.size(), (long long)ids.size() - 1);
      std::vector<EvalResult> rs;
      for (const auto& m : all) {
        rs.push_back(run_one(model, ids, m, args->copt, pm, /*decode=*/true));
        std::fprintf(stderr, "%s: ppl %.3f\n", method_label(rs.back()).c_str(), rs.back().ppl);
      }
      print_table(rs);
      j["positions"] = to_string(pm);
      j["results"] = nlohmann::json::array();
      for (auto& r : rs) j["results"].push_back(r.to_json());
    } else {
      EvalResult r = run_one(model, ids, args->method, args->copt, pm, decode);
      print_one(r);
      const nlohmann::json rj = r.to_json();
      for (auto& [k, v] : rj.items()) j[k] = v;
    }
    if (!args->json_out.empty()) write_file_atomic(args->json_out, j.dump(1) + "\n");
  });
}

}  // namespace headscope::cli
