// headscope eval: perplexity and next-token accuracy of a model on a text, either with one
// parallel forward (dense, the default) or token by token over a real KV cache that a
// compression method prunes after every step (PPL, accuracy, TTFT, TPOT, throughput, cache size,
// peak memory), or every method at once (--compare-all).
#include <cstdio>

#include "cli/commands.h"
#include "cli/report_stream.h"
#include "cli/documents.h"
#include "cli/eval_prefill.h"
#include "cli/method_options.h"
#include "cli/runtime.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "compress/compressor.h"
#include "eval/decode_eval.h"
#include "eval/parallel_eval.h"
#include "eval/strided_eval.h"
#include "dataset/nll_export.h"
#include "eval/policy_eval.h"
#include "formats/policy_file.h"

namespace headscope::cli {

namespace {

struct EvalArgs {
  RuntimeOptions rt;
  TextOptions text;
  DocumentOptions docs;
  int64_t context = 0, stride = 0;  // strided perplexity (dense, parallel engine)
  std::string nll_out;
  std::string json_out;
  std::string method = "dense";
  std::string positions = "true";
  bool decode = false;
  bool compare_all = false;
  MethodArgs mopt;
  PrefillArgs prefill;
  std::string policy;  // --policy FILE: a per-(layer, KV head) policy on the real cache
};

// The options of an eval run, for its provenance block (the compressor's own parameters are in
// each result's "compressor").
nlohmann::json eval_options_json(const EvalArgs& a, PositionMode pm) {
  return {{"method", a.method},         {"compare_all", a.compare_all},
          {"decode", a.decode},         {"positions", to_string(pm)},
          {"context", a.context},       {"stride", a.stride},
          {"max_tokens", a.text.max_tokens}, {"newlines", a.text.newlines},
          {"no_special", a.text.no_special}, {"policy", a.policy}};
}

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
                   const MethodOptions& copt, PositionMode pm, bool decode,
                   int64_t context = 0, int64_t stride = 0) {
  if (method == "dense" && !decode && context > 0) {
    StridedEvalOptions so;
    so.context = context;
    so.stride = stride;
    EvalResult r = evaluate_strided(model, ids, so);
    r.extra["decode"] = false;
    return r;
  }
  if (method == "dense" && !decode) {
    EvalResult r = evaluate_parallel(model, ids);
    r.extra["decode"] = false;
    r.extra["protocol"] = "none";
    return r;
  }
  std::unique_ptr<Compressor> c;
  if (method != "dense") c = make_compressor(method, copt);
  DecodeOptions d;
  d.positions = pm;
  d.compressor = c.get();
  d.progress = true;
  EvalResult r = evaluate_decode(model, ids, d);
  r.extra["protocol"] = "step";
  return r;
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
  std::printf("protocol   %s\n", dec ? "step (compressed after every decoding step)" : "none (one parallel forward, nothing compressed)");
  std::printf("positions  %s (%s)\n", r.positions.c_str(),
              positions_help(parse_position_mode(r.positions)));
  if (r.extra.contains("stride"))
    std::printf("engine     parallel forward, strided: windows of %lld tokens every %lld (%lld windows, each scores its last %lld)\n",
                (long long)r.extra["context"].get<int64_t>(), (long long)r.extra["stride"].get<int64_t>(),
                (long long)r.extra["windows"].get<int64_t>(), (long long)r.extra["stride"].get<int64_t>());
  else
    std::printf("engine     %s\n", dec ? "token-by-token decode over a KV cache"
                                       : "parallel forward");
  std::printf("tokens     %lld (%lld predictions)\n", (long long)r.tokens, (long long)r.tokens - 1);
  if (r.diverged())
    std::printf("ppl        diverged (non-finite NLL: NaN/Inf in the logits)\n");
  else
    std::printf("ppl        %.4f\n", r.ppl);
  std::printf("accuracy   %.2f%%\n", 100.0 * r.accuracy);
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

// --compare-all: a method whose cache ends as long as the dense cache in every layer evicted
// nothing at this --max-tokens, so it computed what dense computed. Flagged in the JSON
// ("cache_filled": false) and in the table ("never filled").
void mark_cache_filled(std::vector<std::vector<EvalResult>>& per) {  // [method][document], 0 = dense
  for (size_t m = 1; m < per.size(); ++m)
    for (size_t d = 0; d < per[m].size(); ++d) {
      const nlohmann::json& dl = per[0][d].extra["final_cache_per_layer"];
      const nlohmann::json& ml = per[m][d].extra["final_cache_per_layer"];
      bool filled = false;
      for (size_t l = 0; l < ml.size() && l < dl.size(); ++l)
        filled = filled || ml[l].get<int64_t>() < dl[l].get<int64_t>();
      per[m][d].extra["cache_filled"] = filled;
    }
}

bool never_filled(const std::vector<EvalResult>& per_doc) {
  for (const auto& r : per_doc)
    if (r.extra.value("cache_filled", true)) return false;
  return !per_doc.empty();
}

const char* kNeverFilledNote =
    "never filled: the cache never evicted anything at this --max-tokens, so the method computed "
    "exactly what dense computed (use more tokens or a smaller budget)";

void print_table(const std::vector<EvalResult>& rs) {
  std::printf("\n%-46s %9s %7s %9s %9s %8s %11s %17s\n", "method", "PPL", "acc", "TTFT ms",
              "TPOT ms", "tok/s", "final cache", "peak mem");
  for (const auto& r : rs) {
    if (r.diverged()) {
      std::printf("%-46s %9s\n", method_label(r).c_str(), "diverged");
      continue;
    }
    std::printf("%-46s %9.3f %6.2f%% %9.2f %9.2f %8.1f %11lld %17s%s\n", method_label(r).c_str(), r.ppl,
                100.0 * r.accuracy, 1e3 * r.extra["ttft_s"].get<double>(),
                1e3 * r.extra["tpot_s"].get<double>(), r.tokens_per_s,
                (long long)r.extra["final_cache_size"].get<int64_t>(), peak_memory(r).c_str(),
                never_filled({r}) ? "  never filled" : "");
  }
  for (const auto& r : rs)
    if (never_filled({r})) {
      std::printf("%s\n", kNeverFilledNote);
      break;
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
  const nlohmann::json rj = r.to_json();  // named: items() of a temporary would dangle
  for (auto& [k, v] : rj.items()) j[k] = v;
  j["schema_version"] = kEvalSchemaVersion;
  Provenance prov = runtime_provenance("eval", rt, model);
  prov.texts.push_back(text_provenance(text.text, ids));
  prov.bos_added = bos_added(rt.model, text);
  prov.options = {{"policy", path}, {"positions", to_string(pm)}, {"max_tokens", text.max_tokens},
                  {"newlines", text.newlines}};
  j["provenance"] = prov.to_json();
  write_file_atomic(json_out, j.dump(1) + "\n");
}

}  // namespace

void register_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* sub = app.add_subcommand(
      "eval", "perplexity, next-token accuracy, speed and memory of a model on a text, dense or "
              "with a KV-cache compression method");
  add_runtime_options(sub, args->rt);
  add_text_options(sub, args->text, 2048, /*multiple=*/true);
  add_document_options(sub, args->docs);
  sub->add_option("--context", args->context,
                  "strided perplexity (dense): window length N in tokens (needs --stride)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--stride", args->stride,
                  "strided perplexity: a window starts every S tokens and scores its last S")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--nll-out", args->nll_out,
                  "write every per-token NLL to this .npy or .h5 file (one method only)");
  sub->add_option("--method", args->method, method_help())->capture_default_str();
  sub->add_option("--positions", args->positions,
                  "rotary positions: true (text position), cache (cache length, the Python "
                  "original's), shifted (re-rotated by slot index)")
      ->check(CLI::IsMember({"true", "cache", "shifted"}))->capture_default_str();
  sub->add_flag("--decode", args->decode, "dense: decode token by token over a KV cache instead of one parallel forward");
  sub->add_flag("--compare-all", args->compare_all, "run dense and every method with its defaults (plus the options given) and print one table");
  add_method_options(sub, args->mopt);
  sub->add_option("--policy", args->policy,
                  "policy file (headscope.policy/1, from ablate --export-policy or allocate): "
                  "evaluate it on the real KV cache, token by token");
  sub->add_option("--json", args->json_out, "write the result(s) as JSON to this file");
  add_prefill_options(sub, args->prefill);
  sub->callback([args]() {
    // "--json -": the JSON alone on stdout, this report on stderr.
    ReportToStderr report_redirect(is_stdout_path(args->json_out));
    if (!args->json_out.empty()) resolve_output(args->json_out);  // a directory fails now
    if (args->prefill.protocol == "prefill") {
      usage_require(args->positions == "true" && !args->decode,
              "--protocol prefill uses true positions and always decodes the continuation; drop --positions/--decode");
      run_prefill_command(args->rt, args->text, args->method, args->mopt, args->prefill,
                          args->compare_all, args->json_out);
      return;
    }
    check_step_protocol(args->prefill, args->mopt, args->method);
    const PositionMode pm = parse_position_mode(args->positions);
    // Validate the method and its options before loading anything. --compare-all: dense and
    // every registered compressor, each with the options given that it takes.
    std::vector<std::string> all = {"dense"};
    for (auto* c : compressors())
      if (c->compare_all) all.push_back(c->name);
    std::vector<MethodOptions> all_opt(all.size());
    if (args->compare_all) {
      check_applies_to_some(args->mopt, all, /*presses=*/false, "--compare-all");
      for (size_t i = 1; i < all.size(); ++i) {
        all_opt[i] = compressor_options_for(args->mopt, all[i]);
        make_compressor(all[i], all_opt[i]);
      }
    } else if (args->method != "dense") {
      make_compressor(args->method, compressor_options(args->mopt));
    } else {
      check_dense(args->mopt);
    }
    const MethodOptions copt = compressor_options(args->mopt);
    usage_require((args->context > 0) == (args->stride > 0), "--context and --stride go together");
    if (args->context > 0) {
      usage_require(args->method == "dense" && !args->decode && !args->compare_all &&
                  pm == PositionMode::True,
              "--context/--stride (strided perplexity) apply to the parallel dense engine "
              "(--method dense, no --decode, --positions true); the mask engine takes them in "
              "`headscope ablate`");
      strided_windows(2, args->context, args->stride);  // validates context and stride
    }
    if (!args->nll_out.empty()) {
      usage_require(!args->compare_all, "--nll-out takes one method, not --compare-all");
      check_nll_out_path(args->nll_out);
    }
    if (!args->policy.empty()) {
      usage_require(args->method == "dense" && !args->compare_all,
              "--policy cannot be combined with --method or --compare-all");
      run_policy_file(args->rt, args->text, args->policy, pm, args->json_out);
      return;
    }
    Model model = load_model(args->rt);
    for (int64_t l : copt.skip_layers)
      usage_require(l < model.config().num_layers,
              "--skip-layers: layer " + std::to_string(l) + " does not exist (the model has " +
                  std::to_string(model.config().num_layers) + " layers)");
    std::vector<TokenizedDocument> docs = load_document_tokens(args->rt.model, args->text, args->docs);
    const bool multi = multi_document(args->text, args->docs, docs);
    const BootstrapOptions bo = bootstrap_options(args->docs);
    std::printf("model      %s (%lld params)\n", args->rt.model.c_str(),
                (long long)model.num_parameters());
    if (multi)
      print_documents_header(docs, args->text);
    else
      std::printf("text       %s (%lld tokens, newlines=%s)\n", docs[0].name.c_str(),
                  (long long)docs[0].total_tokens, args->text.newlines.c_str());
    std::printf("device     %s\n", describe_device(args->rt).c_str());
    const int64_t trained = model.config().max_position_embeddings;
    int64_t longest = 0;
    for (const auto& doc : docs) longest = std::max<int64_t>(longest, static_cast<int64_t>(doc.ids.size()));
    // a strided evaluation never shows the model more than --context tokens at once
    if (args->context > 0) longest = std::min(longest, args->context);
    const bool beyond = longest > trained;
    if (beyond)
      std::fprintf(stderr,
                   "headscope: warning: %lld tokens exceed the model's trained context "
                   "(max_position_embeddings = %lld): positions past it were never trained, so "
                   "the numbers measure extrapolation\n",
                   (long long)longest, (long long)trained);
    // dense with non-true positions is the same computation, but say what was asked for
    const bool decode = args->decode || pm != PositionMode::True;

    nlohmann::json j = {{"model", args->rt.model},
                        {"text", docs[0].name},
                        {"newlines", args->text.newlines},
                        {"device", describe_device(args->rt)},
                        {"max_position_embeddings", trained},
                        {"beyond_trained_context", beyond}};
    std::vector<std::string> diverged;
    auto docs_json = [&](const std::vector<EvalResult>& per_doc) {
      nlohmann::json a = nlohmann::json::array();
      for (size_t d = 0; d < docs.size(); ++d) {
        nlohmann::json e = doc_score(docs[d].name, per_doc[d]).to_json();
        e["tokens"] = static_cast<int64_t>(docs[d].ids.size());
        e["total_tokens"] = docs[d].total_tokens;
        e["wall_s"] = per_doc[d].wall_s;
        a.push_back(e);
      }
      return a;
    };
    auto scores_of = [&](const std::vector<EvalResult>& per_doc) {
      std::vector<DocScore> s;
      for (size_t d = 0; d < docs.size(); ++d) s.push_back(doc_score(docs[d].name, per_doc[d]));
      return s;
    };
    if (args->compare_all) {
      const int64_t n0 = static_cast<int64_t>(docs[0].ids.size());
      if (!multi)
        std::printf("positions  %s (%s)\ntokens     %lld (%lld predictions), token-by-token decode\n",
                    to_string(pm), positions_help(pm), (long long)n0, (long long)n0 - 1);
      else
        std::printf("positions  %s (%s)\nengine     token-by-token decode, every document\n",
                    to_string(pm), positions_help(pm));
      std::vector<std::vector<EvalResult>> per(all.size());  // [method][document]
      for (size_t m = 0; m < all.size(); ++m)
        for (const auto& doc : docs) {
          per[m].push_back(run_one(model, doc.ids, all[m], all_opt[m], pm, /*decode=*/true));
          if (per[m].back().diverged()) diverged.push_back(method_label(per[m].back()) + " " + doc.name);
          std::fprintf(stderr, "%s %s: ppl %.3f\n", method_label(per[m].back()).c_str(),
                       doc.name.c_str(), per[m].back().ppl);
        }
      mark_cache_filled(per);
      j["positions"] = to_string(pm);
      j["protocol"] = "step";
      j["results"] = nlohmann::json::array();
      if (!multi) {
        std::vector<EvalResult> rs;
        for (auto& p : per) rs.push_back(p[0]);
        print_table(rs);
        for (auto& r : rs) j["results"].push_back(r.to_json());
      } else {
        const std::vector<DocScore> dense = scores_of(per[0]);
        std::printf("\n%-46s %9s %21s %7s %10s %21s\n", "method (pooled over documents)", "PPL",
                    "95% interval", "acc", "dPPL", "dPPL 95% interval");
        for (size_t m = 0; m < all.size(); ++m) {
          const std::vector<DocScore> sc = scores_of(per[m]);
          const PooledScore p = pool_documents(sc, bo);
          const PairedDifference pd = paired_difference(sc, dense, "dense", bo);
          std::printf("%-46s %9.3f %21s %6.2f%% %+10.3f %21s%s\n", method_label(per[m][0]).c_str(),
                      p.ppl, format_interval(p.ppl_ci, "%.3f").c_str(), 100.0 * p.accuracy,
                      pd.delta_ppl, format_interval(pd.delta_ppl_ci, "%+.3f").c_str(),
                      m > 0 && never_filled(per[m]) ? "  never filled" : "");
          nlohmann::json rj = per[m][0].to_json();
          if (m > 0) rj["cache_filled"] = !never_filled(per[m]);
          for (const char* k : {"tokens", "predictions", "mean_nll", "perplexity", "accuracy"}) rj.erase(k);
          rj["pooled"] = p.to_json();
          rj["paired_vs_dense"] = pd.to_json();
          rj["documents"] = docs_json(per[m]);
          j["results"].push_back(rj);
        }
        for (size_t m = 1; m < all.size(); ++m)
          if (never_filled(per[m])) {
            std::printf("%s\n", kNeverFilledNote);
            break;
          }
      }
    } else {
      std::vector<EvalResult> per;
      for (const auto& doc : docs) {
        per.push_back(run_one(model, doc.ids, args->method, copt, pm, decode, args->context,
                              args->stride));
        if (per.back().diverged()) diverged.push_back(method_label(per.back()) + " " + doc.name);
      }
      if (!multi) {
        print_one(per[0]);
        const nlohmann::json rj = per[0].to_json();
        for (auto& [k, v] : rj.items()) j[k] = v;
      } else {
        const EvalResult& r0 = per[0];
        std::printf("method     %s\npositions  %s (%s)\n", method_label(r0).c_str(),
                    r0.positions.c_str(), positions_help(parse_position_mode(r0.positions)));
        if (r0.extra.contains("stride"))
          std::printf("engine     parallel forward, strided: windows of %lld tokens every %lld\n",
                      (long long)args->context, (long long)args->stride);
        double wall = 0;
        for (auto& r : per) wall += r.wall_s;
        const std::vector<DocScore> sc = scores_of(per);
        const PooledScore p = pool_documents(sc, bo);
        print_document_table("per document", sc, p);
        std::printf("wall       %.3f s\n", wall);
        nlohmann::json rj = r0.to_json();
        for (const char* k : {"tokens", "predictions", "mean_nll", "perplexity", "accuracy", "wall_s",
                              "tokens_per_s"})
          rj.erase(k);
        for (auto& [k, v] : rj.items()) j[k] = v;
        j["pooled"] = p.to_json();
        j["documents"] = docs_json(per);
        j["wall_s"] = wall;
        if (args->method != "dense" || decode) {
          // the same documents with the dense parallel engine, for the paired difference
          std::vector<EvalResult> dense;
          for (const auto& doc : docs) dense.push_back(run_one(model, doc.ids, "dense", {},
                                                              PositionMode::True, false));
          const PairedDifference pd = paired_difference(sc, scores_of(dense), "dense", bo);
          std::printf("\n");
          print_paired(method_label(r0), pd);
          j["paired_vs_dense"] = pd.to_json();
        }
      }
      if (!args->nll_out.empty()) {
        NllExport e;
        e.method = method_label(per[0]);
        e.model = args->rt.model;
        for (size_t d = 0; d < docs.size(); ++d) {
          e.docs.push_back(&docs[d]);
          e.nll.push_back(&per[d].nll);
        }
        write_nll(args->nll_out, e);
        std::printf("nll        %s (%lld predictions)\n", args->nll_out.c_str(),
                    (long long)total_predictions(docs));
      }
    }
    j["status"] = diverged.empty() ? "ok" : "diverged";
    j["schema_version"] = kEvalSchemaVersion;
    {
      Provenance prov = runtime_provenance("eval", args->rt, model);
      for (const auto& doc : docs)
        prov.texts.push_back(text_provenance(multi ? doc.name : args->text.text, doc.ids));
      prov.bos_added = bos_added(args->rt.model, args->text);
      prov.options = eval_options_json(*args, pm);
      j["provenance"] = prov.to_json();
    }
    report_redirect.restore();
    if (!args->json_out.empty()) write_file_atomic(args->json_out, j.dump(1) + "\n");
    if (!diverged.empty()) {
      std::string which;
      for (const auto& d : diverged) which += (which.empty() ? "" : ", ") + d;
      throw Error("result diverged (NaN/Inf in the logits) for " + which +
                  (args->json_out.empty() ? std::string()
                                          : "; " + args->json_out + " records \"status\": \"diverged\""));
    }
  });
}

}  // namespace headscope::cli
