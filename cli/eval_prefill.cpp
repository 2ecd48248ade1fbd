#include "cli/eval_prefill.h"

#include <cstdio>

#include "common/atomic_file.h"
#include "common/error.h"
#include "eval/prefill_eval.h"
#include "model/tokenizer.h"

namespace headscope::cli {

namespace {

double mib(int64_t b) { return double(b) / (1024.0 * 1024.0); }

// A press (kvpress-style, --compression-ratio) or a per-step compressor applied once (its own
// size options), or neither (dense).
struct Method {
  std::unique_ptr<PrefillPress> press;
  std::unique_ptr<Compressor> compressor;
};

bool press_only(const std::string& method) { return find_press(method) && !find_compressor(method); }

// `given`: the method options (for --compare-all already restricted to the method's flags).
Method make_method(const std::string& method, const MethodOptions& given) {
  Method m;
  const bool ratio_given = given.values.count(compression_ratio_option().flag) > 0;
  if (method == "dense") {
    if (ratio_given) {
      std::string names;
      for (auto* p : presses()) names += (names.empty() ? "" : ", ") + p->name;
      throw Error("--compression-ratio needs a press (" + names + "), not dense");
    }
    for (const auto& [f, v] : given.values) usage_error("--" + f + " does not apply to --method dense");
    if (!given.skip_layers.empty()) usage_error("--skip-layers does not apply to --method dense");
    return m;
  }
  if (ratio_given || press_only(method)) {
    m.press = make_prefill_press(method, given);
    return m;
  }
  m.compressor = make_compressor(method, given);
  return m;
}

std::string label(const PrefillResult& pr) {
  const EvalResult& r = pr.eval;
  std::string s = r.method + "(";
  bool first = true;
  std::function<void(const nlohmann::json&, const std::string&)> add = [&](const nlohmann::json& j,
                                                                           const std::string& pre) {
    for (auto& [k, v] : j.items()) {
      if (k == "method" || (k == "skip_layers" && v.empty())) continue;
      if (v.is_object()) {
        s += std::string(first ? "" : ",") + k + "=" + v.value("method", "?");
        first = false;
        add(v, pre);
        continue;
      }
      s += (first ? "" : ",") + pre + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
      first = false;
    }
  };
  add(pr.compressor, "");
  return r.method == "dense" ? "dense" : s + ")";
}

void print_one(const PrefillResult& pr) {
  const EvalResult& r = pr.eval;
  const int64_t N = pr.context_tokens;
  std::printf("method     %s\n", label(pr).c_str());
  std::printf("protocol   prefill (context of %lld tokens prefilled in parallel and compressed once, "
              "then scored token by token)\n", (long long)N);
  std::printf("positions  true (each token rotated at its position in the text; cached keys keep theirs)\n");
  std::printf("tokens     %lld (context %lld, %lld predictions)\n", (long long)r.tokens, (long long)N,
              (long long)pr.predictions);
  std::printf("kept       %lld of %lld context entries (compression %.4f; per layer:",
              (long long)pr.kept_entries, (long long)pr.context_entries, pr.achieved_compression_ratio());
  for (int64_t v : pr.kept_per_layer) std::printf(" %lld", (long long)v);
  std::printf(")\n");
  std::printf("ppl        %.4f\n", r.ppl);
  std::printf("accuracy   %.4f\n", r.accuracy);
  std::printf("prefill    %.3f s (compression included)\n", pr.prefill_s);
  std::printf("scoring    %.3f s, %.1f tokens/s\n", pr.scoring_s, r.tokens_per_s);
  if (pr.rss_peak_bytes >= 0) std::printf("peak mem   %.1f MiB (RSS)\n", mib(pr.rss_peak_bytes));
}

}  // namespace

void add_prefill_options(CLI::App* sub, PrefillArgs& a) {
  sub->add_option("--protocol", a.protocol,
                  "step (compress after every decoding step, the seeds') or prefill (kvpress's: "
                  "prefill --context-tokens in parallel, compress once, score the rest)")
      ->check(CLI::IsMember({"step", "prefill"}))->capture_default_str();
  sub->add_option("--context-tokens", a.context_tokens, "prefill: tokens prefilled and compressed once");
}

void check_step_protocol(const PrefillArgs& a, const MethodArgs& m, const std::string& method) {
  usage_require(a.context_tokens < 0, "--context-tokens needs --protocol prefill");
  usage_require(!m.has(compression_ratio_option().flag), "--compression-ratio needs --protocol prefill");
  if (press_only(method))
    throw Error("method " + method + " runs only under --protocol prefill (it compresses the prefilled context once)");
}

void run_prefill_command(const RuntimeOptions& rt, const TextOptions& text, const std::string& method,
                         const MethodArgs& mopt, const PrefillArgs& a, bool compare_all,
                         const std::string& json_out) {
  usage_require(a.context_tokens >= 1, "--protocol prefill needs --context-tokens N (N >= 1)");
  const std::string ratio_flag = compression_ratio_option().flag;
  if (mopt.has(ratio_flag)) {  // validates the ratio first, whatever the method
    MethodOptions r;
    r.values[ratio_flag] = mopt.given.at(ratio_flag);
    make_prefill_press(find_press(method) ? method : presses().front()->name, r);
  }
  std::vector<std::string> methods = {method};
  std::vector<MethodOptions> given = {press_options(mopt)};
  if (compare_all) {
    usage_require(mopt.has(ratio_flag), "--protocol prefill --compare-all needs --compression-ratio");
    methods = {"dense"};
    for (auto* p : presses()) methods.push_back(p->name);
    check_applies_to_some(mopt, methods, /*presses=*/true, "--protocol prefill --compare-all");
    given = {MethodOptions{}};
    for (size_t i = 1; i < methods.size(); ++i) given.push_back(press_options_for(mopt, methods[i]));
  }
  for (size_t i = 0; i < methods.size(); ++i) make_method(methods[i], given[i]);  // validate before loading anything
  Model model = load_model(rt);
  // Tokenized silently so that a context longer than the text is one error line, not a report.
  TokenLoad tl = load_tokens_with(Tokenizer::load(rt.model), text, 2);
  if (text.max_tokens > 0 && int64_t(tl.ids.size()) > text.max_tokens) tl.ids.resize(text.max_tokens);
  const std::vector<int64_t>& ids = tl.ids;
  const int64_t total = static_cast<int64_t>(ids.size());
  require(a.context_tokens < int64_t(ids.size()),
          "--context-tokens " + std::to_string(a.context_tokens) + " is not shorter than the text (" +
              std::to_string(ids.size()) + " tokens after --max-tokens)");
  std::printf("special    %s\n", tl.special_description.c_str());
  std::printf("model      %s (%lld params)\n", rt.model.c_str(), (long long)model.num_parameters());
  std::printf("text       %s (%lld tokens, newlines=%s)\n", text.text.c_str(), (long long)total,
              text.newlines.c_str());
  std::printf("device     %s\n", describe_device(rt).c_str());
  nlohmann::json j = {{"model", rt.model}, {"text", text.text}, {"newlines", text.newlines},
                      {"device", describe_device(rt)}, {"protocol", "prefill"},
                      {"context_tokens", a.context_tokens}};
  std::vector<PrefillResult> rs;
  for (size_t i = 0; i < methods.size(); ++i) {
    Method mm = make_method(methods[i], given[i]);
    PrefillEvalOptions o;
    o.context_tokens = a.context_tokens;
    o.press = mm.press.get();
    o.compressor = mm.compressor.get();
    o.progress = true;
    rs.push_back(evaluate_prefill(model, ids, o));
  }
  if (!compare_all) {
    print_one(rs[0]);
    const nlohmann::json rj = rs[0].to_json();
    for (auto& [k, v] : rj.items()) j[k] = v;
  } else {
    std::printf("protocol   prefill (context %lld tokens compressed once at ratio %s, %lld predictions)\n\n",
                (long long)a.context_tokens, mopt.given.at(ratio_flag).c_str(),
                (long long)rs[0].predictions);
    std::printf("%-58s %9s %7s %8s %10s %11s\n", "method", "PPL", "acc", "kept", "prefill s", "scoring t/s");
    j["results"] = nlohmann::json::array();
    for (const auto& r : rs) {
      std::printf("%-58s %9.4f %6.2f%% %8lld %10.3f %11.1f\n", label(r).c_str(), r.eval.ppl,
                  100.0 * r.eval.accuracy, (long long)r.kept_entries, r.prefill_s, r.eval.tokens_per_s);
      j["results"].push_back(r.to_json());
    }
  }
  j["schema_version"] = kEvalSchemaVersion;
  Provenance prov = runtime_provenance("eval", rt, model);
  prov.texts.push_back(text_provenance(text.text, ids));
  prov.bos_added = tl.bos_added ? 1 : 0;
  prov.options = {{"protocol", "prefill"}, {"method", method}, {"compare_all", compare_all},
                  {"context_tokens", a.context_tokens}, {"max_tokens", text.max_tokens},
                  {"newlines", text.newlines}};
  j["provenance"] = prov.to_json();
  if (!json_out.empty()) write_file_atomic(json_out, j.dump(1) + "\n");
}

}  // namespace headscope::cli
