#include "headaware/ablation_runner.h"

#include <algorithm>
#include <cstdarg>
#include <optional>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/progress.h"
#include "common/text.h"
#include "eval/parallel_eval.h"
#include "formats/policy_file.h"

namespace headscope {

const char* const kNominalContextNote =
    "nominal_context = mean over heads of sink + window, full-context heads counted as the "
    "text length (the Python original counted them as a fixed 1024 placeholder); "
    "measured_context = mean number of keys each query actually saw";

// ---- records ----------------------------------------------------------------------------------

nlohmann::ordered_json AblationRecord::to_json() const {
  nlohmann::ordered_json j = {{"name", name},
          {"group", group},
          {"perplexity", perplexity},
          {"accuracy", accuracy},
          {"nominal_context", nominal_context},
          {"measured_context", measured_context},
          {"tokens_per_s", tokens_per_s},
          {"wall_s", wall_s},
          {"params", params}};
  if (!policy.is_null()) j["policy"] = policy;
  if (!nll_segments.is_null()) j["nll_segments"] = nll_segments;
  return j;
}

namespace {

double num(const nlohmann::json& j, const char* key, const std::string& what) {
  auto it = j.find(key);
  require(it != j.end() && it->is_number(),
          what + ": field '" + key + "' is missing or not a number");
  return it->get<double>();
}

// A diverged evaluation's NaN/inf is written as null by the JSON library: read it back as NaN.
double num_or_nan(const nlohmann::json& j, const char* key, const std::string& what) {
  auto it = j.find(key);
  if (it != j.end() && it->is_null()) return std::nan("");
  return num(j, key, what);
}

std::string str(const nlohmann::json& j, const char* key, const std::string& what) {
  auto it = j.find(key);
  require(it != j.end() && it->is_string(),
          what + ": field '" + key + "' is missing or not a string");
  return it->get<std::string>();
}

bool same_path(const std::string& a, const std::string& b) {
  if (a == b) return true;
  std::error_code ec1, ec2;
  auto ca = std::filesystem::weakly_canonical(a, ec1);
  auto cb = std::filesystem::weakly_canonical(b, ec2);
  return !ec1 && !ec2 && ca == cb;
}

}  // namespace

AblationRecord AblationRecord::from_json(const nlohmann::json& j) {
  require(j.is_object(), "ablation result entry is not an object");
  AblationRecord r;
  r.name = str(j, "name", "ablation result");
  const std::string w = "ablation result '" + r.name + "'";
  r.group = str(j, "group", w);
  r.perplexity = num_or_nan(j, "perplexity", w);
  r.accuracy = num_or_nan(j, "accuracy", w);
  r.nominal_context = num(j, "nominal_context", w);
  r.measured_context = num(j, "measured_context", w);
  r.tokens_per_s = j.value("tokens_per_s", 0.0);
  r.wall_s = j.value("wall_s", 0.0);
  if (j.contains("params")) {
    require(j["params"].is_object(), w + ": 'params' is not an object");
    r.params = j["params"];
  }
  if (j.contains("policy") && j["policy"].is_object()) r.policy = j["policy"];
  if (j.contains("nll_segments") && j["nll_segments"].is_object()) r.nll_segments = j["nll_segments"];
  return r;
}

int AblationFile::find(const std::string& name) const {
  for (size_t i = 0; i < results.size(); ++i)
    if (results[i].name == name) return static_cast<int>(i);
  return -1;
}

nlohmann::ordered_json AblationFile::to_json() const {
  nlohmann::ordered_json j;
  j["schema"] = kAblationSchema;
  j["model"] = id.model;
  j["text"] = id.text;
  j["tokens"] = id.tokens;
  if (has_dense)
    j["dense"] = {{"perplexity", dense.perplexity},
                  {"accuracy", dense.accuracy},
                  {"tokens_per_s", dense.tokens_per_s},
                  {"wall_s", dense.wall_s}};
  j["classifications"] = id.classifications;
  if (!reference_group.empty()) j["reference_group"] = reference_group;
  if (!groups.empty()) {
    nlohmann::ordered_json gs = nlohmann::ordered_json::array();
    for (const auto& g : groups) gs.push_back({{"id", g.id}, {"title", g.title}});
    j["groups"] = gs;
  }
  if (!id.token_ids_sha256.empty()) j["token_ids_sha256"] = id.token_ids_sha256;
  if (!id.model_identity.empty()) j["model_identity"] = id.model_identity;
  if (!id.classifications_sha256.empty()) j["classifications_sha256"] = id.classifications_sha256;
  if (!provenance.is_null()) j["provenance"] = provenance;
  j["nominal_context_note"] = kNominalContextNote;
  nlohmann::ordered_json rs = nlohmann::ordered_json::array();
  for (const auto& r : results) rs.push_back(r.to_json());
  j["results"] = rs;
  return j;
}

AblationFile AblationFile::from_json(const nlohmann::json& j, const std::string& what) {
  require(j.is_object() && j.value("schema", std::string()) == kAblationSchema,
          what + " is not a headscope ablation results file (schema " + kAblationSchema + ")");
  AblationFile f;
  f.id.model = str(j, "model", what);
  f.id.text = str(j, "text", what);
  require(j.contains("tokens") && j["tokens"].is_number_integer(),
          what + ": field 'tokens' is missing or not an integer");
  f.id.tokens = j["tokens"].get<int64_t>();
  f.id.classifications = j.value("classifications", std::string());
  f.id.token_ids_sha256 = j.value("token_ids_sha256", std::string());
  f.id.model_identity = j.value("model_identity", std::string());
  f.id.classifications_sha256 = j.value("classifications_sha256", std::string());
  if (j.contains("provenance")) f.provenance = j["provenance"];
  if (j.contains("dense") && j["dense"].is_object()) {
    const auto& d = j["dense"];
    f.has_dense = true;
    f.dense.perplexity = num_or_nan(d, "perplexity", what + " dense");
    f.dense.accuracy = num_or_nan(d, "accuracy", what + " dense");
    f.dense.tokens_per_s = d.value("tokens_per_s", 0.0);
    f.dense.wall_s = d.value("wall_s", 0.0);
  }
  f.reference_group = j.value("reference_group", std::string());
  if (j.contains("groups") && j["groups"].is_array())
    for (const auto& g : j["groups"])
      if (g.is_object()) f.groups.push_back({g.value("id", std::string()), g.value("title", std::string())});
  require(j.contains("results") && j["results"].is_array(),
          what + ": field 'results' is missing or not an array");
  for (const auto& r : j["results"]) f.results.push_back(AblationRecord::from_json(r));
  return f;
}

void AblationFile::record_plan(const AblationPlan& plan) {
  for (const auto& g : plan.groups) {
    bool listed = false;
    for (auto& have : groups)
      if (have.id == g.id) {
        listed = true;
        if (!g.title.empty()) have.title = g.title;
      }
    if (!listed) groups.push_back(g);
  }
  reference_group = plan.reference_group;
}

AblationFile AblationFile::load(const std::string& path) {
  const nlohmann::json j = read_json_file(path);
  return from_json(j, path);
}

void AblationFile::save(const std::string& path) const {
  write_file_atomic(path, to_json().dump(1) + "\n");
}

AblationFile open_ablation_file(const std::string& path, const AblationIdentity& id) {
  if (path.empty() || !std::filesystem::exists(path)) {
    AblationFile f;
    f.id = id;
    return f;
  }
  AblationFile f = AblationFile::load(path);
  auto mismatch = [&](const std::string& what, const std::string& have, const std::string& want) {
    throw Error(path + " holds results for " + what + " " + have + ", not " + want +
                "; choose another --out or remove it");
  };
  if (!f.id.model_identity.empty() && !id.model_identity.empty()) {
    if (f.id.model_identity != id.model_identity)
      mismatch("model", f.id.model + " (identity " + f.id.model_identity.substr(0, 12) + ")",
               id.model + " (identity " + id.model_identity.substr(0, 12) +
                   ": another config.json or other weights)");
  } else if (!same_path(f.id.model, id.model)) {
    mismatch("model", f.id.model, id.model);
  }
  const bool ids_known = !f.id.token_ids_sha256.empty() && !id.token_ids_sha256.empty();
  if (!ids_known && !same_path(f.id.text, id.text)) mismatch("text", f.id.text, id.text);
  if (f.id.tokens != id.tokens)
    mismatch("token count", std::to_string(f.id.tokens), std::to_string(id.tokens));
  if (!f.id.token_ids_sha256.empty() && !id.token_ids_sha256.empty() &&
      f.id.token_ids_sha256 != id.token_ids_sha256)
    mismatch("token ids (sha256)", f.id.token_ids_sha256.substr(0, 12),
             id.token_ids_sha256.substr(0, 12) + " (another --newlines mode or tokenizer?)");
  // the classification file by content when both sides know it (a copy or another path to the
  // same bytes resumes; the same path with other content does not), else by path
  if (!f.id.classifications_sha256.empty() && !id.classifications_sha256.empty()) {
    if (f.id.classifications_sha256 != id.classifications_sha256)
      mismatch("classification file", f.id.classifications + " (sha256 " +
                   f.id.classifications_sha256.substr(0, 12) + ")",
               id.classifications + " (sha256 " + id.classifications_sha256.substr(0, 12) + ")");
  } else if (!f.id.classifications.empty() && !id.classifications.empty() &&
             !same_path(f.id.classifications, id.classifications)) {
    mismatch("classification file", f.id.classifications, id.classifications);
  }
  if (f.id.classifications.empty()) f.id.classifications = id.classifications;
  if (f.id.classifications_sha256.empty()) f.id.classifications_sha256 = id.classifications_sha256;
  if (f.id.token_ids_sha256.empty()) f.id.token_ids_sha256 = id.token_ids_sha256;
  if (f.id.model_identity.empty()) f.id.model_identity = id.model_identity;
  return f;
}

// ---- evaluation -------------------------------------------------------------------------------

std::string ids_digest(const std::vector<int64_t>& ids) {
  std::string bytes;
  bytes.reserve(ids.size() * 8);
  for (int64_t v : ids)
    for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<char>((uint64_t(v) >> (8 * b)) & 0xff));
  return sha256_hex(bytes);
}

nlohmann::json nll_segments(const std::vector<double>& nll, int segments) {
  const size_t n = nll.size();
  const size_t k = std::max<size_t>(1, std::min<size_t>(size_t(segments), n));
  nlohmann::json preds = nlohmann::json::array(), sums = nlohmann::json::array();
  for (size_t s = 0; s < k; ++s) {
    const size_t b = s * n / k, e = (s + 1) * n / k;
    double sum = 0;
    for (size_t i = b; i < e; ++i) sum += nll[i];
    preds.push_back(static_cast<int64_t>(e - b));
    sums.push_back(sum);
  }
  return {{"predictions", preds}, {"nll_sum", sums}};
}

int64_t auto_query_block(int64_t tokens, bool cuda) {
  // CPU: 256-query blocks were fastest on the 70m model over 1000 tokens (CPU time 22 s for
  // the B and J groups vs 31 s with one 1000-query block: windowed heads skip most keys).
  // GPU: fewer, larger blocks (fewer kernel launches) up to 1024 queries.
  if (cuda) return std::max<int64_t>(1, std::min<int64_t>(tokens, 1024));
  return 256;
}

nlohmann::json policy_record(const Visibility& v) {
  nlohmann::json s = nlohmann::json::array(), w = nlohmann::json::array();
  for (int64_t l = 0; l < v.layers(); ++l) {
    nlohmann::json sl = nlohmann::json::array(), wl = nlohmann::json::array();
    for (int64_t h = 0; h < v.heads(); ++h) {
      sl.push_back(v.at(l, h).sink);
      wl.push_back(v.at(l, h).window);
    }
    s.push_back(sl);
    w.push_back(wl);
  }
  return {{"hash", PolicyFile::hash(v)}, {"sinks", s}, {"windows", w}};
}

AblationRecord evaluate_config(const Model& model, const std::vector<int64_t>& ids,
                               const AblationConfig& cfg, const ClassificationFile* cls,
                               int64_t query_block, const KvPolicyOptions& kv,
                               const EvalProgress& progress) {
  const auto& c = model.config();
  const int64_t T = static_cast<int64_t>(ids.size());
  Visibility vis = cfg.build(c.num_layers, c.num_heads, cls);
  nlohmann::json kv_info = nullptr;
  if (c.gqa()) {
    if (kv.per_query_head) {
      kv_info = {{"policy", "per_query_head"},
                 {"realisable", false},
                 {"disagreeing_groups", disagreeing_groups(vis, c.num_kv_heads)},
                 {"note", "query heads of one KV head see different keys: no real KV cache can do this"}};
    } else {
      kv_info = {{"policy", "per_kv_head"},
                 {"realisable", true},
                 {"group_rule", to_string(kv.group_rule)},
                 {"disagreeing_groups", disagreeing_groups(vis, c.num_kv_heads)}};
      vis = kv_head_policy(vis, c.num_kv_heads, kv.group_rule);
    }
  }
  ParallelEvalOptions po;
  po.visibility = &vis;
  po.query_block = query_block > 0 ? query_block : auto_query_block(T, model.device().is_cuda());
  po.progress = progress;
  EvalResult r = evaluate_parallel(model, ids, po);
  AblationRecord rec;
  rec.name = cfg.name;
  rec.group = cfg.group;
  rec.perplexity = r.ppl;
  rec.accuracy = r.accuracy;
  rec.nominal_context = nominal_context(vis, T);
  rec.measured_context = vis.measured_context(T);
  rec.tokens_per_s = r.tokens_per_s;
  rec.wall_s = r.wall_s;
  rec.params = cfg.params();
  if (!kv_info.is_null()) rec.params["kv_heads"] = kv_info;
  rec.policy = policy_record(vis);
  rec.nll_segments = nll_segments(r.nll);
  if (auto* pf = std::get_if<PolicyFileParams>(&cfg.parameters)) rec.policy["file"] = pf->file;
  return rec;
}

DenseRecord evaluate_dense(const Model& model, const std::vector<int64_t>& ids,
                           int64_t query_block, const EvalProgress& progress) {
  ParallelEvalOptions po;
  po.query_block = query_block > 0 ? query_block : auto_query_block(int64_t(ids.size()), model.device().is_cuda());
  po.progress = progress;
  EvalResult r = evaluate_parallel(model, ids, po);
  DenseRecord d;
  d.perplexity = r.ppl;
  d.accuracy = r.accuracy;
  d.tokens_per_s = r.tokens_per_s;
  d.wall_s = r.wall_s;
  return d;
}

AblationRunStats run_ablation(const Model& model, const std::vector<int64_t>& ids,
                              const AblationPlan& plan, const ClassificationFile* cls,
                              AblationFile& file, const AblationRunOptions& opt) {
  require(file.id.tokens == static_cast<int64_t>(ids.size()),
          "results file is for " + std::to_string(file.id.tokens) + " tokens, the text has " +
              std::to_string(ids.size()));
  // Fail before any evaluation if a configuration cannot be built.
  const auto& mc = model.config();
  for (const auto& c : plan.configs) (void)c.build(mc.num_layers, mc.num_heads, cls);

  file.record_plan(plan);
  auto t0 = std::chrono::steady_clock::now();
  AblationRunStats st;
  auto save = [&] {
    if (!opt.out_path.empty()) file.save(opt.out_path);
  };
  // Progress within one evaluation, in query blocks over all layers.
  std::optional<Progress> bar;
  auto progress_for = [&](const std::string& label) -> EvalProgress {
    bar.reset();
    if (!opt.progress) return {};
    return [&bar, label](int64_t done, int64_t total) {
      if (!bar) bar.emplace(label, long(total), "blocks");
      bar->update(long(done));
    };
  };
  if (!file.has_dense) {
    file.dense = evaluate_dense(model, ids, opt.query_block, progress_for("dense"));
    if (bar) bar->finish();
    file.has_dense = true;
    save();
    if (opt.log)
      std::fprintf(opt.log, "%-24s ppl %9.3f  acc %.4f  (full context)  %8.0f tok/s\n", "dense",
                   file.dense.perplexity, file.dense.accuracy, file.dense.tokens_per_s);
    if (opt.log) std::fflush(opt.log);
  }
  const size_t n = plan.configs.size();
  for (size_t i = 0; i < n; ++i) {
    const AblationConfig& cfg = plan.configs[i];
    const int at = file.find(cfg.name);
    if (at >= 0 && file.results[at].params == cfg.params() && file.results[at].group == cfg.group) {
      ++st.skipped;
      if (opt.log)
        std::fprintf(opt.log, "[%2zu/%zu] %-24s already in %s, skipped\n", i + 1, n,
                     cfg.name.c_str(), opt.out_path.c_str());
      continue;
    }
    AblationRecord rec;
    {
      char label[64];
      std::snprintf(label, sizeof label, "[%zu/%zu] %s", i + 1, n, cfg.name.c_str());
      rec = evaluate_config(model, ids, cfg, cls, opt.query_block, opt.kv, progress_for(label));
      if (bar) bar->finish();
    }
    if (at >= 0) {
      file.results[at] = rec;  // parameters changed since the stored run: replace it
    } else {
      file.results.push_back(rec);
    }
    save();
    ++st.evaluated;
    if (opt.log)
      std::fprintf(opt.log,
                   "[%2zu/%zu] %-24s ppl %9.3f  acc %.4f  ctx %7.1f (nominal %7.1f)  %8.0f tok/s%s\n",
                   i + 1, n, cfg.name.c_str(), rec.perplexity, rec.accuracy, rec.measured_context,
                   rec.nominal_context, rec.tokens_per_s, at >= 0 ? "  (parameters changed: re-run)" : "");
    if (opt.log) std::fflush(opt.log);
  }
  st.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

// ---- summary ----------------------------------------------------------------------------------

namespace {
// A record's NLL segments as DocScores (one "document" per segment) for the paired bootstrap.
std::vector<DocScore> segment_scores(const AblationRecord& r) {
  std::vector<DocScore> out;
  const nlohmann::json& s = r.nll_segments;
  if (!s.is_object() || !s.contains("predictions") || !s.contains("nll_sum")) return out;
  const auto& p = s["predictions"];
  const auto& n = s["nll_sum"];
  if (!p.is_array() || !n.is_array() || p.size() != n.size()) return {};
  for (size_t i = 0; i < p.size(); ++i) {
    if (!p[i].is_number_integer() || !n[i].is_number()) return {};
    DocScore d;
    d.name = "segment " + std::to_string(i);
    d.predictions = p[i].get<int64_t>();
    d.nll_sum = n[i].get<double>();
    out.push_back(d);
  }
  return out;
}
}  // namespace

std::vector<AblationComparison> key_comparisons(const AblationFile& f,
                                                const std::string& reference_group) {
  std::vector<const AblationRecord*> refs;
  for (const auto& r : f.results)
    if (r.group == reference_group) refs.push_back(&r);
  std::vector<AblationComparison> out;
  if (refs.empty()) return out;
  for (const auto& r : f.results) {
    if (!r.head_aware() || r.group == reference_group) continue;
    const AblationRecord* best = nullptr;
    for (const AblationRecord* b : refs) {
      if (!best) { best = b; continue; }
      double d = std::abs(b->measured_context - r.measured_context);
      double db = std::abs(best->measured_context - r.measured_context);
      if (d < db || (d == db && b->measured_context < best->measured_context)) best = b;
    }
    AblationComparison c;
    c.name = r.name;
    c.reference = best->name;
    c.perplexity = r.perplexity;
    c.ref_perplexity = best->perplexity;
    c.context = r.measured_context;
    c.ref_context = best->measured_context;
    c.matched = std::abs(c.context - c.ref_context) <= kMatchedContext * c.context;
    if (c.matched) {
      std::vector<DocScore> a = segment_scores(r), b = segment_scores(*best);
      if (a.size() >= 2 && a.size() == b.size()) {
        bool same = true;
        for (size_t i = 0; i < a.size(); ++i) same = same && a[i].predictions == b[i].predictions;
        if (same) c.delta_ci = paired_difference(a, b, best->name).delta_ppl_ci;
      }
    }
    out.push_back(c);
  }
  return out;
}

namespace {

std::string line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string line(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return std::string(buf) + "\n";
}

}  // namespace

std::string format_summary(const AblationFile& f, const AblationPlan& plan) {
  std::string s;
  s += line("Ablation summary: %s, %s, %lld tokens", f.id.model.c_str(), f.id.text.c_str(),
            (long long)f.id.tokens);
  if (f.has_dense)
    s += line("dense (full context): ppl %.3f, accuracy %.4f, %.0f tok/s", f.dense.perplexity,
              f.dense.accuracy, f.dense.tokens_per_s);
  s += line("context = measured mean keys per query; nominal = mean sink + window (full heads "
            "counted as %lld tokens; the original used 1024)", (long long)f.id.tokens);
  std::vector<std::string> order;
  std::map<std::string, std::string> titles;
  for (const auto& g : plan.groups) {
    order.push_back(g.id);
    titles[g.id] = g.title;
  }
  std::set<std::string> extra;
  for (const auto& r : f.results)
    if (std::find(order.begin(), order.end(), r.group) == order.end()) extra.insert(r.group);
  order.insert(order.end(), extra.begin(), extra.end());
  for (const auto& g : order) {
    std::vector<const AblationRecord*> rs;
    for (const auto& r : f.results)
      if (r.group == g) rs.push_back(&r);
    if (rs.empty()) continue;
    std::stable_sort(rs.begin(), rs.end(), [](const AblationRecord* a, const AblationRecord* b) {
      return a->measured_context < b->measured_context;
    });
    s += "\n";
    s += line("--- %s%s%s ---", g.c_str(), titles[g].empty() ? "" : ": ", titles[g].c_str());
    s += line("%-24s %10s %8s %8s %9s %9s %10s", "name", "ppl", "vs dense", "acc", "context",
              "nominal", "tok/s");
    for (const AblationRecord* r : rs) {
      std::string vs = "-";
      if (f.has_dense) {
        char b[32];
        std::snprintf(b, sizeof b, "%+.1f%%", 100.0 * (r->perplexity / f.dense.perplexity - 1.0));
        vs = b;
      }
      s += line("%-24s %10.3f %8s %8.4f %9.1f %9.1f %10.0f", r->name.c_str(), r->perplexity,
                vs.c_str(), r->accuracy, r->measured_context, r->nominal_context, r->tokens_per_s);
    }
  }
  return s;
}

std::string format_comparisons(const AblationFile& f, const std::string& reference_group) {
  std::vector<AblationComparison> cs = key_comparisons(f, reference_group);
  std::string s;
  s += line("Key comparisons: each head-aware configuration vs the %s run of nearest measured "
            "context; only a %s run within +-%.0f%% of its context is a fair comparison "
            "(dPPL 95%% interval: paired block bootstrap over %d text segments)",
            reference_group.c_str(), reference_group.c_str(), 100 * kMatchedContext, kNllSegments);
  if (cs.empty()) {
    bool any_ref = false;
    for (const auto& r : f.results) any_ref = any_ref || r.group == reference_group;
    s += any_ref ? line("  (no head-aware results)")
                 : line("  (no results of group %s to compare against)", reference_group.c_str());
    return s;
  }
  std::stable_sort(cs.begin(), cs.end(), [](const AblationComparison& a, const AblationComparison& b) {
    return a.context < b.context;
  });
  s += line("%-24s %10s %8s   %-18s %10s %8s %9s %8s  %s", "head-aware", "ppl", "context",
            "reference", "ppl", "context", "dPPL", "dPPL%", "dPPL 95% interval");
  int matched = 0, better = 0, surely_better = 0, surely_worse = 0;
  for (const auto& c : cs) {
    std::string ci;
    if (!c.matched) {
      char b[64];
      std::snprintf(b, sizeof b, "no %s run within +-%.0f%%", reference_group.c_str(),
                    100 * kMatchedContext);
      ci = b;
    } else if (c.delta_ci.valid) {
      char b[64];
      std::snprintf(b, sizeof b, "[%+.3f, %+.3f]", c.delta_ci.lo, c.delta_ci.hi);
      ci = b;
      surely_better += c.delta_ci.hi < 0;
      surely_worse += c.delta_ci.lo > 0;
    } else {
      ci = "(no segments stored)";
    }
    if (c.matched) {
      ++matched;
      better += c.delta_ppl() < 0;
    }
    s += line("%-24s %10.3f %8.1f   %-18s %10.3f %8.1f %+9.3f %+7.2f%%  %s", c.name.c_str(),
              c.perplexity, c.context, c.reference.c_str(), c.ref_perplexity, c.ref_context,
              c.delta_ppl(), c.delta_pct(), ci.c_str());
  }
  if (matched == 0)
    s += line("no %s run within +-%.0f%% of any head-aware configuration's measured context: "
              "no fair comparison", reference_group.c_str(), 100 * kMatchedContext);
  else
    s += line("%d of %d head-aware configurations with a %s run within +-%.0f%% context have lower "
              "PPL (%d with the 95%% interval below 0, %d above 0); %zu have no %s run within "
              "+-%.0f%%",
              better, matched, reference_group.c_str(), 100 * kMatchedContext, surely_better,
              surely_worse, cs.size() - size_t(matched), reference_group.c_str(),
              100 * kMatchedContext);
  const AblationRecord* best = nullptr;
  for (const auto& r : f.results)
    if (r.head_aware() && std::isfinite(r.perplexity) && (!best || r.perplexity < best->perplexity))
      best = &r;
  if (best)
    s += line("best head-aware: %s (ppl %.3f, context %.1f)", best->name.c_str(), best->perplexity,
              best->measured_context);
  return s;
}

}  // namespace headscope
