// headscope ablate: evaluates the ablation experiment set (configs/ablation.toml) with the
// parallel mask engine, appending each configuration's result to --out as it finishes (an
// interrupted run resumes where it stopped), then prints the summary by group and the key
// comparisons against the StreamingLLM group.
#include <cstdio>
#include <filesystem>

#include "analyzer/head_classification.h"
#include "cli/ablate_documents.h"
#include "cli/commands.h"
#include "cli/documents.h"
#include "cli/runtime.h"
#include "common/atomic_file.h"
#include "common/build_info.h"
#include "common/error.h"
#include "common/file_lock.h"
#include "common/provenance.h"
#include "common/text.h"
#include "formats/policy_file.h"
#include "headaware/ablation_config.h"
#include "headaware/ablation_runner.h"

namespace headscope::cli {

namespace {

struct AblateArgs {
  RuntimeOptions rt;
  TextOptions text;
  DocumentOptions docs;
  int64_t context = 0, stride = 0;
  std::string classifications;
  std::string config;  // empty: the built-in configs/ablation.toml
  std::string groups;
  std::string out;
  int64_t query_block = 0;
  bool no_progress = false;
  bool wait = false;
  bool per_query_head = false;
  std::string kv_group_rule = "max";
  std::string export_policy, policy_out;
};

// --config FILE (which must exist), else the copy of configs/ablation.toml built into the binary.
AblationPlan load_plan(const std::string& path) {
  if (!path.empty()) return load_ablation_plan(path);
  return parse_ablation_plan(embedded_config("ablation.toml"), "built-in configs/ablation.toml");
}

// ablate --export-policy NAME: builds one configuration for the model's shape (no evaluation)
// and writes it as a policy file.
void export_policy(const AblationPlan& plan, const std::string& name, const std::string& model_dir,
                   const std::string& cls_path, const std::string& out) {
  const AblationConfig* cfg = nullptr;
  std::string names;
  for (const auto& c : plan.configs) {
    if (c.name == name) cfg = &c;
    names += (names.empty() ? "" : ", ") + c.name;
  }
  usage_require(cfg != nullptr, "--export-policy: no configuration '" + name + "' (configurations: " +
                              names + ")");
  ClassificationFile cls;
  if (cfg->needs_classifications()) {
    require(!cls_path.empty(), "--export-policy " + name + " (builder " + cfg->builder +
                                   ") needs --classifications");
    cls = read_classifications(cls_path);
  }
  PolicyFile pf;
  pf.model = PolicyModel::from_model_dir(model_dir);
  pf.name = name;
  pf.policy = cfg->build(pf.model.layers, pf.model.kv_heads,
                         cfg->needs_classifications() ? &cls : nullptr);
  pf.source = {{"command", "ablate --export-policy"}, {"configuration", name},
               {"group", cfg->group}, {"params", cfg->params()},
               {"classifications", cls_path}};
  Provenance prov;
  prov.command = "ablate --export-policy";
  prov.model_path = model_dir;
  prov.options = {{"configuration", name}, {"classifications", cls_path}};
  pf.source["provenance"] = prov.to_json();
  pf.save(out);
  std::printf("policy     %s: %s (%s, hash %s)\n", name.c_str(), out.c_str(),
              pf.model.describe().c_str(), pf.policy_hash().substr(0, 12).c_str());
}

}  // namespace

void register_ablate(CLI::App& app) {
  auto args = std::make_shared<AblateArgs>();
  CLI::App* sub = app.add_subcommand(
      "ablate", "per-head window policies vs uniform baselines (the seeds' ablation groups)");
  add_runtime_options(sub, args->rt);
  add_text_options(sub, args->text, 1000, /*multiple=*/true);
  add_document_options(sub, args->docs);
  sub->add_option("--context", args->context, "strided perplexity: window length (needs --stride)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--stride", args->stride, "strided perplexity: a window every S tokens, scoring its last S")
      ->check(CLI::NonNegativeNumber);
  sub->get_option("--text")->required(false);  // not needed by --export-policy
  sub->add_option("--classifications", args->classifications,
                  "head_classifications.json (needed by every non-uniform configuration)");
  sub->add_option("--config", args->config,
                  "ablation experiment set (TOML); default: configs/ablation.toml as built into "
                  "this binary");
  sub->add_option("--groups", args->groups, "comma-separated group ids to run (default: all)");
  sub->add_option("--out", args->out, "results JSON (appended after each configuration; resumes)");
  sub->add_option("--export-policy", args->export_policy,
                  "write configuration NAME's per-(layer, KV head) policy to --policy-out "
                  "(headscope.policy/1) instead of running the ablation");
  sub->add_option("--policy-out", args->policy_out, "policy file written by --export-policy");
  sub->add_option("--query-block", args->query_block,
                  "queries per attention block (0 = auto: 256 on CPU, up to 1024 on GPU)")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--no-progress", args->no_progress, "no progress bar");
  sub->add_flag("--wait", args->wait,
                "if another headscope is writing to --out, wait for it (default: fail at once)");
  sub->add_option("--kv-group-rule", args->kv_group_rule,
                  "GQA models: how a KV head's query-head windows become one (max: the most "
                  "demanding head decides; min: the least)")
      ->check(CLI::IsMember({"max", "min"}))->capture_default_str();
  sub->add_flag("--per-query-head", args->per_query_head,
                "GQA models, research mode: evaluate per-query-head policies in the mask engine "
                "(results cannot be realised by a real KV cache and are flagged so)");
  sub->callback([args]() {
    // Everything that can be checked without the model is checked first.
    AblationPlan plan = load_plan(args->config);
    if (!args->export_policy.empty()) {
      usage_require(!args->policy_out.empty(), "--export-policy needs --policy-out FILE");
      export_policy(plan, args->export_policy, args->rt.model, args->classifications,
                    args->policy_out);
      return;
    }
    usage_require(args->policy_out.empty(), "--policy-out is only used with --export-policy");
    usage_require(!args->out.empty(), "--out is required (the results JSON)");
    usage_require(!args->text.text.empty() || !args->docs.dataset.empty(), "--text or --dataset is required");
    usage_require((args->context > 0) == (args->stride > 0), "--context and --stride go together");
    try {
      plan = select_groups(plan, split_group_list(args->groups));
    } catch (const UsageError&) {
      throw;
    } catch (const Error& e) {  // every error of select_groups is about --groups' value
      throw UsageError(e.what());
    }
    usage_require(!plan.configs.empty(), "no configurations selected");
    ClassificationFile cls;
    const bool need_cls = plan.needs_classifications();
    if (need_cls)
      usage_require(!args->classifications.empty(),
              "the selected configurations need --classifications (a head_classifications.json); "
              "run `headscope analyze` first or select only uniform groups with --groups");
    if (!args->classifications.empty()) cls = read_classifications(args->classifications);
    usage_require(!is_stdout_path(args->out),
            "--out must be a file: ablate re-reads it to resume, so '-' (stdout) is not possible");
    // One ablate per results file for the whole run: two runs appending to the same file
    // would each rewrite it from their own copy and lose the other's results.
    FileLock lock(lock_path_for_file(args->out), args->out, args->wait);

    Model model = load_model(args->rt);
    const auto& mc = model.config();
    if (!args->classifications.empty())
      check_classifications_match(cls, mc.num_layers, mc.num_heads, args->classifications);
    std::vector<TokenizedDocument> docs = load_document_tokens(args->rt.model, args->text, args->docs);
    if (multi_document(args->text, args->docs, docs) || args->context > 0) {
      std::printf("model      %s (%lld layers x %lld heads)\n", args->rt.model.c_str(),
                  (long long)mc.num_layers, (long long)mc.num_heads);
      print_documents_header(docs, args->text);
      std::printf("device     %s\nconfigs    %zu in %zu group(s) + dense, on every document\n",
                  describe_device(args->rt).c_str(), plan.configs.size(), plan.groups.size());
      if (args->context > 0)
        std::printf("strided    windows of %lld tokens every %lld\n", (long long)args->context,
                    (long long)args->stride);
      std::printf("\n");
      AblateDocumentsOptions o;
      o.model_path = args->rt.model;
      o.classifications = args->classifications;
      o.out = args->out;
      o.context = args->context;
      o.stride = args->stride;
      o.max_tokens = args->text.max_tokens;
      o.bootstrap = bootstrap_options(args->docs);
      {
        Provenance prov = runtime_provenance("ablate", args->rt, model);
        for (const auto& d : docs) {
          TextProvenance t;
          t.path = d.name;
          t.tokens = static_cast<int64_t>(d.ids.size());
          t.token_ids_sha256 = ids_digest(d.ids);
          prov.texts.push_back(t);
        }
        prov.bos_added = bos_added(args->rt.model, args->text);
        prov.options = {{"config", args->config.empty() ? "built-in configs/ablation.toml" : args->config},
                        {"config_groups", args->groups},
                        {"classifications", args->classifications},
                        {"classifications_sha256", args->classifications.empty() ? std::string()
                             : sha256_hex(read_file(args->classifications))},
                        {"max_tokens", args->text.max_tokens},
                        {"context", args->context},
                        {"stride", args->stride},
                        {"newlines", args->text.newlines},
                        {"bootstrap", o.bootstrap.resamples},
                        {"seed", o.bootstrap.seed}};
        o.provenance = prov.to_json();
      }
      ablate_documents(model, docs, plan, args->classifications.empty() ? nullptr : &cls, o);
      return;
    }
    int64_t total = docs[0].total_tokens;
    std::vector<int64_t> ids = docs[0].ids;

    AblationIdentity id{args->rt.model, args->text.text, args->classifications,
                        static_cast<int64_t>(ids.size()), ids_digest(ids),
                        model_identity(args->rt.model).id,
                        args->classifications.empty() ? std::string()
                                                      : sha256_hex(read_file(args->classifications))};
    AblationFile file = open_ablation_file(args->out, id);
    {
      Provenance prov = runtime_provenance("ablate", args->rt, model);
      prov.texts.push_back(text_provenance(args->text.text, ids));
      prov.bos_added = bos_added(args->rt.model, args->text);
      prov.options = {{"config", args->config.empty() ? "built-in configs/ablation.toml" : args->config},
                      {"config_groups", args->groups},
                      {"classifications", args->classifications},
                      {"max_tokens", args->text.max_tokens},
                      {"newlines", args->text.newlines},
                      {"query_block", args->query_block},
                      {"kv_group_rule", args->kv_group_rule},
                      {"per_query_head", args->per_query_head}};
      file.provenance = prov.to_json();
    }
    std::printf("model      %s (%lld layers x %lld heads)\n", args->rt.model.c_str(),
                (long long)mc.num_layers, (long long)mc.num_heads);
    std::printf("text       %s (%lld of %lld tokens, newlines=%s)\n", args->text.text.c_str(),
                (long long)ids.size(), (long long)total, args->text.newlines.c_str());
    std::printf("device     %s\n", describe_device(args->rt).c_str());
    std::printf("configs    %zu in %zu group(s); %zu result(s) already in %s\n",
                plan.configs.size(), plan.groups.size(), file.results.size(), args->out.c_str());
    if (!args->classifications.empty())
      std::printf("heads      %s\n", args->classifications.c_str());
    std::printf("note       %s\n\n", kNominalContextNote);
    std::fflush(stdout);

    AblationRunOptions opt;
    opt.out_path = args->out;
    opt.query_block = args->query_block;
    opt.progress = !args->no_progress;
    opt.log = stdout;
    opt.kv.per_query_head = args->per_query_head;
    opt.kv.group_rule = parse_group_rule(args->kv_group_rule);
    if (model.config().gqa())
      std::printf("kv heads   %lld query heads over %lld KV heads: %s\n\n",
                  (long long)model.config().num_heads, (long long)model.config().num_kv_heads,
                  args->per_query_head
                      ? "per-query-head policies (research mode: NOT realisable in a real KV cache)"
                      : (std::string("one policy per KV head, rule '") + args->kv_group_rule +
                         "' (what a real cache can do)").c_str());
    AblationRunStats st =
        run_ablation(model, ids, plan, args->classifications.empty() ? nullptr : &cls, file, opt);
    std::printf("\n%d configuration(s) evaluated, %d resumed from %s, %.1f s\n\n", st.evaluated,
                st.skipped, args->out.c_str(), st.wall_s);
    std::printf("%s\n", format_summary(file, plan).c_str());
    std::printf("%s", format_comparisons(file, plan.reference_group).c_str());
    std::printf("\nresults    %s\n", args->out.c_str());
  });
}

}  // namespace headscope::cli
