#include "sweep/sweep_run.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "analyzer/head_classification.h"
#include "common/atomic_file.h"
#include "common/cpu_runtime.h"
#include "common/error.h"
#include "common/progress.h"
#include "common/provenance.h"
#include "common/text.h"
#include "dataset/document_stats.h"
#include "dataset/document_tokens.h"
#include "dataset/documents.h"
#include "headaware/ablation_config.h"
#include "headaware/ablation_runner.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "sweep/unit_eval.h"

namespace headscope {

namespace fs = std::filesystem;

nlohmann::json read_unit_result(const std::string& dir, const SweepUnit& u) {
  const std::string p = unit_result_path(dir, u.id);
  if (!fs::exists(p)) return nullptr;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(p));
  } catch (const nlohmann::json::exception&) {
    return nullptr;  // unreadable: not finished; the unit is redone
  }
  require(j.is_object() && j.value("schema", "") == kSweepUnitSchema && j.value("id", "") == u.id,
          "inconsistent sweep: " + p + " is not the result of unit " + u.id);
  if (j.value("status", "") != "done") return nullptr;
  return j;
}

namespace {

std::string hostname() {
  char b[256] = {0};
  ::gethostname(b, sizeof b - 1);
  return b;
}

}  // namespace

SweepRunStats run_sweep(const std::string& dir, const SweepManifest& m, const SweepRunOptions& opt) {
  auto t0 = std::chrono::steady_clock::now();
  SweepRunStats st;
  std::vector<const SweepUnit*> todo;
  for (const auto& u : m.units) {
    if (u.index % opt.shard.count != opt.shard.index) continue;
    ++st.assigned;
    if (!read_unit_result(dir, u).is_null()) {
      ++st.already_done;
      continue;
    }
    todo.push_back(&u);
  }
  if (opt.log)
    std::fprintf(opt.log, "shard      %lld/%lld (%s): %lld unit(s), %lld already done, %zu to run\n",
                 (long long)opt.shard.index, (long long)opt.shard.count, opt.shard.source.c_str(),
                 (long long)st.assigned, (long long)st.already_done, todo.size());
  if (todo.empty()) return st;

  // Documents: re-read every dataset a unit needs and check it against the manifest.
  const Newlines nl = parse_newlines(m.spec.newlines);
  std::map<int64_t, std::vector<Document>> texts;  // by dataset
  for (const auto* u : todo) {
    const int64_t ds = m.documents[u->document].dataset;
    if (texts.count(ds)) continue;
    const auto& d = m.spec.datasets.at(ds);
    DocumentSource src;
    src.dataset = d.path;
    src.field = d.field;
    src.split_on = d.split_on;
    src.max_docs = d.max_docs;
    src.newlines = nl;
    texts[ds] = load_documents(src);
  }
  std::map<int64_t, const Document*> doc_text;  // manifest document index -> text
  {
    std::map<int64_t, size_t> next;
    for (size_t i = 0; i < m.documents.size(); ++i) {
      const auto& md = m.documents[i];
      if (!texts.count(md.dataset)) continue;
      const auto& v = texts[md.dataset];
      const size_t k = next[md.dataset]++;
      require(k < v.size() && v[k].name == md.name && sha256_hex(v[k].text) == md.sha256,
              "inconsistent manifest: document " + md.name + " is not what was planned (changed or removed since `sweep plan`)");
      doc_text[static_cast<int64_t>(i)] = &v[k];
    }
  }

  AblationPlan plan = select_groups(load_ablation_plan(m.spec.ablation_config), m.spec.groups);
  std::map<std::string, const AblationConfig*> configs;
  for (const auto& c : plan.configs) configs[c.name] = &c;

  configure_cpu_runtime(opt.threads >= 0 ? opt.threads : m.spec.threads);
  UnitEvalOptions uo;
  uo.context = m.spec.context;
  uo.stride = m.spec.stride;

  // Per model: load it, its classifications and its tokenization of the documents, once.
  int64_t cur_model = -1;
  std::unique_ptr<Model> model;
  std::string model_error;
  ClassificationFile cls;
  bool have_cls = false;
  std::map<int64_t, TokenizedDocument> toks;
  std::unique_ptr<Tokenizer> tok;
  nlohmann::ordered_json model_provenance;  // per model: identity and runtime, patched per unit
  std::string cls_sha256;                   // per model: its classification file's content
  const size_t n = todo.size();
  for (size_t i = 0; i < n; ++i) {
    const SweepUnit& u = *todo[i];
    const auto& me = m.spec.models[u.model];
    const auto& md = m.documents[u.document];
    nlohmann::json out = {{"schema", kSweepUnitSchema}, {"id", u.id},           {"index", u.index},
                          {"model", me.path},           {"document", md.name},  {"config", u.config},
                          {"group", u.group},           {"host", hostname()},
                          {"shard", std::to_string(opt.shard.index) + "/" + std::to_string(opt.shard.count)}};
    auto tu = std::chrono::steady_clock::now();
    try {
      if (u.model != cur_model) {
        cur_model = u.model;
        model.reset();
        toks.clear();
        have_cls = false;
        model_error.clear();
        try {
          at::Device dev = opt.device == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
          model = std::make_unique<Model>(Model::load(me.path, dev, at::kFloat));
          tok = std::make_unique<Tokenizer>(Tokenizer::load(me.path));
          Provenance p;
          p.command = "sweep run";
          p.model_path = me.path;
          p.architecture = model->config().architecture;
          p.device = opt.device;
          p.dtype = "float32";
          p.threads = opt.device == "cpu" ? at::get_num_threads() : 0;
          p.bos_added = tok->special_prefix().empty() ? 0 : 1;
          model_provenance = p.to_json();
          cls_sha256 = me.classifications.empty() ? std::string() : sha256_hex(read_file(me.classifications));
          if (!me.classifications.empty()) {
            cls = read_classifications(me.classifications);
            check_classifications_match(cls, model->config().num_layers, model->config().num_heads,
                                        me.classifications);
            have_cls = true;
          }
        } catch (const std::exception& e) {
          model.reset();
          model_error = e.what();
        }
      }
      require(model != nullptr, model_error);
      if (!toks.count(u.document)) {
        const Document* d = doc_text.at(u.document);
        toks[u.document] = tokenize_documents({*d}, [&](const std::string& s) { return tok->encode(s); },
                                              m.spec.max_tokens)[0];
      }
      const TokenizedDocument& td = toks[u.document];
      const AblationConfig* cfg = nullptr;
      if (u.config != "dense") {
        auto it = configs.find(u.config);
        require(it != configs.end(), "inconsistent manifest: configuration " + u.config + " is no longer in " +
                                         m.spec.ablation_config);
        cfg = it->second;
        require(cfg->params() == u.params, "inconsistent manifest: configuration " + u.config +
                                               " has other parameters than when planned");
      }
      std::optional<Progress> bar;
      UnitEvalOptions unit_opt = uo;
      const std::string label = "[" + std::to_string(i + 1) + "/" + std::to_string(n) + "] " + u.config;
      unit_opt.progress = [&bar, &label](int64_t done, int64_t total) {
        if (!bar) bar.emplace(label, long(total), "blocks");
        bar->update(long(done));
      };
      EvalResult r = evaluate_unit(*model, td.ids, cfg, have_cls ? &cls : nullptr, unit_opt);
      if (bar) bar->finish();
      DocScore ds = make_doc_score(md.name, r.nll, static_cast<int64_t>(std::llround(r.accuracy * double(r.nll.size()))));
      nlohmann::json res = ds.to_json();
      res["tokens"] = static_cast<int64_t>(td.ids.size());
      res["measured_context"] = r.extra["measured_context"];
      out["status"] = "done";
      out["result"] = res;
      // what produced this unit (common/provenance.h): model identity, runtime, the document's
      // token ids, the configuration's parameters and the classification file's content
      nlohmann::ordered_json prov = model_provenance;
      prov["date_utc"] = utc_now_iso();
      prov["texts"] = nlohmann::ordered_json::array(
          {{{"path", md.name}, {"tokens", static_cast<int64_t>(td.ids.size())},
            {"token_ids_sha256", ids_digest(td.ids)}}});
      prov["options"] = {{"unit", u.id},
                         {"config", u.config},
                         {"params", u.params},
                         {"classifications", me.classifications},
                         {"classifications_sha256", cls_sha256},
                         {"context", m.spec.context},
                         {"stride", m.spec.stride},
                         {"max_tokens", m.spec.max_tokens}};
      out["provenance"] = prov;
      ++st.evaluated;
    } catch (const std::exception& e) {
      out["status"] = "failed";
      out["error"] = e.what();
      ++st.failed;
      if (st.first_error.empty()) st.first_error = u.id + " (" + u.config + ", " + md.name + "): " + e.what();
    }
    out["wall_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - tu).count();
    write_file_atomic(unit_result_path(dir, u.id), out.dump(1) + "\n");
    if (opt.log) {
      if (out["status"] == "done")
        std::fprintf(opt.log, "[%3zu/%zu] %s %-24s %-36s ppl %9.3f  %.2f s\n", i + 1, n, u.id.c_str(),
                     u.config.c_str(), md.name.size() > 36 ? md.name.substr(md.name.size() - 36).c_str() : md.name.c_str(),
                     out["result"]["perplexity"].get<double>(), out["wall_s"].get<double>());
      else
        std::fprintf(opt.log, "[%3zu/%zu] %s %-24s FAILED: %s\n", i + 1, n, u.id.c_str(), u.config.c_str(),
                     out["error"].get<std::string>().c_str());
      std::fflush(opt.log);
    }
  }
  st.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

}  // namespace headscope
