// headscope allocate: per-(layer, KV head) sink/window allocation under a budget on a
// calibration text (headaware/allocator.h), written as a policy file (formats/policy_file.h)
// that `eval --policy` runs on the real KV cache and ablate's policy_file builder reads.
#include <cmath>
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "cli/runtime.h"
#include "common/error.h"
#include "formats/policy_file.h"
#include "headaware/allocator.h"
#include "headaware/policy_builders.h"
#include "model/tokenizer.h"

namespace headscope::cli {

namespace {

struct AllocateArgs {
  RuntimeOptions rt;
  TextOptions text;
  std::string out;
  std::string method = "lagrangian";
  std::string budget_kind = "context";
  double budget = 0;
  double recover = 0.95;
  std::string sinks = "0,4";
  std::string windows = "0,8,16,32,64,128,256,512,full";
  int64_t refine = 8;
  uint64_t seed = 0;
  int64_t query_block = 256;
};

std::vector<int64_t> parse_list(const std::string& s, const std::string& what, bool allow_full) {
  std::vector<int64_t> out;
  std::string cur;
  auto flush = [&] {
    size_t a = cur.find_first_not_of(" \t"), b = cur.find_last_not_of(" \t");
    if (a == std::string::npos) {
      cur.clear();
      return;
    }
    const std::string tok = cur.substr(a, b - a + 1);
    cur.clear();
    if (allow_full && tok == "full") {
      out.push_back(-1);
      return;
    }
    try {
      size_t used = 0;
      const long long v = std::stoll(tok, &used);
      require(used == tok.size(), "");
      out.push_back(v);
    } catch (...) {
      throw Error(what + ": '" + tok + "' is not an integer" + (allow_full ? " or full" : ""));
    }
  };
  for (char ch : s) {
    if (ch == ',') flush();
    else cur += ch;
  }
  flush();
  return out;
}

std::string window_str(int64_t w) { return w < 0 ? "full" : w == 0 ? "dead" : std::to_string(w); }

}  // namespace

void register_allocate(CLI::App& app) {
  auto a = std::make_shared<AllocateArgs>();
  CLI::App* sub = app.add_subcommand(
      "allocate", "choose each (layer, KV head)'s sink/window under a context or KV-memory "
                  "budget on a calibration text and write a policy file");
  add_runtime_options(sub, a->rt);
  add_text_options(sub, a->text, 1024);
  sub->add_option("--out", a->out, "policy file to write (headscope.policy/1)")->required();
  sub->add_option("--budget", a->budget,
                  "context: mean keys per query (over layers, KV heads and queries, sinks "
                  "included); bytes: KV-cache bytes after the last calibration token");
  sub->add_option("--budget-kind", a->budget_kind, "context | bytes")->capture_default_str();
  sub->add_option("--method", a->method,
                  "lagrangian (profiled dNLL, priced, refined by true NLL) | fastgen (cheapest "
                  "candidate recovering --recover of each head's attention mass; no budget)")
      ->capture_default_str();
  sub->add_option("--recover", a->recover, "fastgen: attention mass each head must keep")
      ->capture_default_str();
  sub->add_option("--sinks", a->sinks, "candidate sink sizes, comma-separated")->capture_default_str();
  sub->add_option("--windows", a->windows,
                  "candidate windows, comma-separated (0 = dead, full = whole context)")
      ->capture_default_str();
  sub->add_option("--refine", a->refine, "lagrangian: true-NLL forwards spent on pair swaps")
      ->capture_default_str();
  sub->add_option("--seed", a->seed, "order of the swaps tried")->capture_default_str();
  sub->add_option("--query-block", a->query_block, "queries per attention block")
      ->check(CLI::PositiveNumber)->capture_default_str();
  sub->callback([a]() {
    AllocatorOptions o;
    o.sinks = parse_list(a->sinks, "--sinks", false);
    o.windows = parse_list(a->windows, "--windows", true);
    (void)candidate_grid(o.sinks, o.windows);  // empty / invalid grid: error before loading
    usage_require(a->method == "lagrangian" || a->method == "fastgen",
            "--method must be lagrangian or fastgen, got '" + a->method + "'");
    usage_require(a->budget_kind == "context" || a->budget_kind == "bytes",
            "--budget-kind must be context or bytes, got '" + a->budget_kind + "'");
    if (a->method == "lagrangian") usage_require(a->budget > 0, "--budget must be given and positive");
    o.method = a->method;
    o.budget_kind = a->budget_kind;
    o.budget = a->budget;
    o.recover = a->recover;
    o.refine = a->refine;
    o.seed = a->seed;
    o.query_block = a->query_block;
    o.log = stdout;
    PolicyModel pm = PolicyModel::from_model_dir(a->rt.model);
    Model model = load_model(a->rt);
    int64_t total = 0;
    // Tokenized without printing: the budget check below comes before any report line.
    TokenLoad tl = load_tokens_with(Tokenizer::load(a->rt.model), a->text, 2);
    std::vector<int64_t> ids = std::move(tl.ids);
    total = static_cast<int64_t>(ids.size());
    if (a->text.max_tokens > 0 && total > a->text.max_tokens) ids.resize(size_t(a->text.max_tokens));
    if (o.method == "lagrangian") {
      // the budget check needs the text length; do it before printing anything
      const double H = double(model.config().num_layers * model_kv_heads(model));
      double cheapest = INFINITY;
      for (const auto& c : candidate_grid(o.sinks, o.windows))
        cheapest = std::min(cheapest, candidate_cost(c, int64_t(ids.size()), o.budget_kind,
                                                     kv_bytes_per_entry(model)));
      const double need = o.budget_kind == "context" ? cheapest : cheapest * H;
      require(need <= o.budget * (1 + 1e-12),
              "budget " + std::to_string(o.budget) + " is below the cheapest candidate (" +
                  std::to_string(need) +
                  (o.budget_kind == "context" ? " keys per query" : " bytes") + " on this text)");
    }
    std::printf("special    %s\n", tl.special_description.c_str());
    std::printf("model      %s (%lld layers x %lld KV heads)\n", a->rt.model.c_str(),
                (long long)pm.layers, (long long)pm.kv_heads);
    std::printf("text       %s (%lld of %lld tokens, newlines=%s)\n", a->text.text.c_str(),
                (long long)ids.size(), (long long)total, a->text.newlines.c_str());
    std::printf("device     %s\n", describe_device(a->rt).c_str());
    std::printf("method     %s", a->method.c_str());
    if (a->method == "fastgen") std::printf(" (recover %.3f)\n", a->recover);
    else std::printf(" (budget %g, %s, refine %lld, seed %llu)\n", a->budget, a->budget_kind.c_str(),
                     (long long)a->refine, (unsigned long long)a->seed);
    std::fflush(stdout);
    Allocation r = allocate(model, ids, o);

    PolicyFile pf;
    pf.model = pm;
    pf.policy = r.policy;
    char name[128];
    if (a->method == "fastgen") std::snprintf(name, sizeof name, "fastgen_recover%g", a->recover);
    else std::snprintf(name, sizeof name, "allocate_%s%g", a->budget_kind.c_str(), a->budget);
    pf.name = name;
    pf.context_tokens = int64_t(ids.size());
    pf.measured_context = r.measured_context;
    pf.source = r.report;
    pf.source["command"] = "allocate";
    pf.source["calibration_text"] = a->text.text;
    pf.source["sinks"] = o.sinks;
    pf.source["windows"] = o.windows;
    {
      Provenance prov = runtime_provenance("allocate", a->rt, model);
      prov.texts.push_back(text_provenance(a->text.text, ids));
      prov.bos_added = bos_added(a->rt.model, a->text);
      prov.options = {{"method", a->method}, {"budget", a->budget}, {"budget_kind", a->budget_kind},
                      {"recover", a->recover}, {"refine", a->refine}, {"seed", a->seed},
                      {"sinks", o.sinks}, {"windows", o.windows}, {"max_tokens", a->text.max_tokens},
                      {"newlines", a->text.newlines}};
      pf.source["provenance"] = prov.to_json();
    }
    pf.save(a->out);

    std::map<std::string, int64_t> hist;
    for (int64_t l = 0; l < r.policy.layers(); ++l)
      for (int64_t h = 0; h < r.policy.heads(); ++h) {
        const HeadWindow& w = r.policy.at(l, h);
        hist[(w.full() || w.dead() ? window_str(w.window)
                                   : std::to_string(w.sink) + "+" + std::to_string(w.window))] += 1;
      }
    std::printf("\nlayer  windows (sink+window per KV head)\n");
    for (int64_t l = 0; l < r.policy.layers(); ++l) {
      std::printf("%-6lld", (long long)l);
      for (int64_t h = 0; h < r.policy.heads(); ++h) {
        const HeadWindow& w = r.policy.at(l, h);
        std::string s = w.full() || w.dead() ? window_str(w.window)
                                             : std::to_string(w.sink) + "+" + std::to_string(w.window);
        std::printf(" %7s", s.c_str());
      }
      std::printf("\n");
    }
    std::printf("\nheads      ");
    for (auto& [k, v] : hist) std::printf("%s:%lld ", k.c_str(), (long long)v);
    std::printf("\ncontext    %.2f keys per query (measured on the %lld calibration tokens)\n",
                r.measured_context, (long long)ids.size());
    if (a->budget_kind == "bytes")
      std::printf("cache      %.0f bytes after the last token (budget %g)\n", r.cost, a->budget);
    std::printf("NLL        %.5f (dense %.5f), PPL %.4f (dense %.4f) on the calibration text\n",
                r.nll, r.dense_nll, std::exp(r.nll), std::exp(r.dense_nll));
    if (r.report.contains("profile_seconds"))
      std::printf("time       profile %.1f s (%lld forwards), refine %.1f s\n",
                  r.report["profile_seconds"].get<double>(),
                  (long long)r.report["profile_forwards"].get<int64_t>(),
                  r.report["refine_seconds"].get<double>());
    std::printf("policy     %s (hash %s)\n", a->out.c_str(), pf.policy_hash().substr(0, 12).c_str());
  });
}

}  // namespace headscope::cli
