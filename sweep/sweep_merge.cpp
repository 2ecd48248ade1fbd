#include "sweep/sweep_merge.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "common/atomic_file.h"
#include "common/error.h"
#include "dataset/document_stats.h"
#include "headaware/ablation_runner.h"
#include "sweep/sweep_run.h"

namespace headscope {

std::vector<nlohmann::json> collect_unit_results(const std::string& dir, const SweepManifest& m) {
  std::vector<nlohmann::json> out(m.units.size());
  int64_t missing = 0, failed = 0;
  std::string first_failed, first_missing;
  for (const auto& u : m.units) {
    nlohmann::json j = read_unit_result(dir, u);
    if (j.is_null()) {
      // failed or absent?
      nlohmann::json raw;
      try {
        raw = nlohmann::json::parse(read_file(unit_result_path(dir, u.id)));
      } catch (const std::exception&) {
      }
      if (raw.is_object() && raw.value("status", "") == "failed") {
        ++failed;
        if (first_failed.empty())
          first_failed = u.id + " (" + u.config + "): " + raw.value("error", std::string("?"));
      } else {
        ++missing;
        if (first_missing.empty()) first_missing = u.id + " (" + u.config + ")";
      }
      continue;
    }
    out[u.index] = std::move(j);
  }
  if (missing || failed) {
    std::string msg = "sweep " + dir + " is incomplete: " + std::to_string(missing) + " of " +
                      std::to_string(m.units.size()) + " unit(s) have no result, " +
                      std::to_string(failed) + " failed";
    if (!first_failed.empty()) msg += "; first failure: " + first_failed;
    else msg += "; first missing: " + first_missing;
    msg += " (rerun `headscope sweep run` to redo them)";
    throw Error(msg);
  }
  return out;
}

nlohmann::json merge_unit_results(const SweepManifest& m, const std::vector<nlohmann::json>& units) {
  require(units.size() == m.units.size(), "merge: one result per unit is needed");
  BootstrapOptions bo;
  bo.resamples = m.spec.bootstrap;
  bo.seed = m.spec.seed;
  nlohmann::json models = nlohmann::json::array();
  for (size_t mi = 0; mi < m.spec.models.size(); ++mi) {
    // configuration name -> per-document scores in manifest document order
    std::vector<std::string> order;  // configs in manifest order (dense first)
    std::map<std::string, std::vector<DocScore>> scores;
    std::map<std::string, std::vector<double>> ctx;  // measured context per document
    std::map<std::string, const SweepUnit*> unit_of;
    int64_t tokens = 0;
    for (const auto& u : m.units) {
      if (u.model != static_cast<int64_t>(mi)) continue;
      const auto& r = units[u.index].at("result");
      DocScore d = DocScore::from_json(r);
      if (!scores.count(u.config)) order.push_back(u.config), unit_of[u.config] = &u;
      scores[u.config].push_back(d);
      ctx[u.config].push_back(r.at("measured_context").get<double>());
      if (u.config == "dense") tokens += r.at("tokens").get<int64_t>();
    }
    require(scores.count("dense") > 0, "merge: model " + m.spec.models[mi].path + " has no dense units");
    const auto& dense = scores["dense"];
    auto mean_ctx = [&](const std::string& c) {
      // token-weighted mean of the per-document measured context
      double s = 0, w = 0;
      for (size_t i = 0; i < ctx[c].size(); ++i) s += ctx[c][i] * scores[c][i].predictions, w += scores[c][i].predictions;
      return s / w;
    };
    auto docs_json = [&](const std::string& c) {
      nlohmann::json a = nlohmann::json::array();
      for (size_t i = 0; i < scores[c].size(); ++i) {
        nlohmann::json e = scores[c][i].to_json();
        e["measured_context"] = ctx[c][i];
        a.push_back(e);
      }
      return a;
    };
    nlohmann::json mo;
    mo["schema"] = kAblationSchema;
    mo["model"] = m.spec.models[mi].path;
    mo["text"] = std::to_string(dense.size()) + " documents";
    mo["tokens"] = tokens;
    mo["classifications"] = m.spec.models[mi].classifications;
    mo["reference_group"] = m.reference_group;
    mo["context"] = m.spec.context;
    mo["stride"] = m.spec.stride;
    mo["max_tokens"] = m.spec.max_tokens;
    const PooledScore pd = pool_documents(dense, bo);
    mo["dense"] = {{"perplexity", pd.ppl}, {"accuracy", pd.accuracy}, {"pooled", pd.to_json()},
                   {"documents", docs_json("dense")}};
    // reference configurations: the reference group's, by measured context
    std::vector<std::pair<double, std::string>> refs;
    for (const auto& c : order)
      if (c != "dense" && unit_of[c]->group == m.reference_group) refs.push_back({mean_ctx(c), c});
    nlohmann::json results = nlohmann::json::array();
    for (const auto& c : order) {
      if (c == "dense") continue;
      const SweepUnit& u = *unit_of[c];
      const PooledScore p = pool_documents(scores[c], bo);
      const double mc = mean_ctx(c);
      nlohmann::json r = {{"name", c},
                          {"group", u.group},
                          {"perplexity", p.ppl},
                          {"accuracy", p.accuracy},
                          {"nominal_context", nullptr},
                          {"measured_context", mc},
                          {"params", u.params},
                          {"pooled", p.to_json()},
                          {"paired_vs_dense", paired_difference(scores[c], dense, "dense", bo).to_json()}};
      if (u.group != m.reference_group && !refs.empty()) {
        const auto* best = &refs[0];
        for (const auto& x : refs)
          if (std::abs(x.first - mc) < std::abs(best->first - mc)) best = &x;
        r["paired_vs_reference"] = paired_difference(scores[c], scores[best->second], best->second, bo).to_json();
      } else {
        r["paired_vs_reference"] = nullptr;
      }
      r["documents"] = docs_json(c);
      results.push_back(r);
    }
    mo["results"] = results;
    models.push_back(mo);
  }
  return models;
}

namespace {

std::string ci(const nlohmann::json& j, const char* fmt) {
  if (!j.is_array()) return "n/a";
  char a[48], b[48];
  std::snprintf(a, sizeof a, fmt, j[0].get<double>());
  std::snprintf(b, sizeof b, fmt, j[1].get<double>());
  return std::string("[") + a + ", " + b + "]";
}

}  // namespace

std::string format_merged(const nlohmann::json& models) {
  std::string s;
  char line[512];
  for (const auto& mo : models) {
    const auto& dp = mo["dense"]["pooled"];
    std::snprintf(line, sizeof line, "model %s: %s, %lld tokens; dense PPL %.4f %s, accuracy %.4f\n",
                  mo["model"].get<std::string>().c_str(), mo["text"].get<std::string>().c_str(),
                  (long long)mo["tokens"].get<int64_t>(), dp["perplexity"].get<double>(),
                  ci(dp["perplexity_ci95"], "%.3f").c_str(), dp["accuracy"].get<double>());
    s += line;
    std::snprintf(line, sizeof line, "%-24s %5s %8s %10s %21s %10s %21s %-22s %10s %21s\n", "config", "group",
                  "context", "PPL", "95% interval", "vs dense", "95% interval", "reference", "vs ref", "95% interval");
    s += line;
    for (const auto& r : mo["results"]) {
      const auto& p = r["pooled"];
      const auto& d = r["paired_vs_dense"];
      const auto& rf = r["paired_vs_reference"];
      std::snprintf(line, sizeof line, "%-24s %5s %8.1f %10.4f %21s %+10.4f %21s %-22s %10s %21s\n",
                    r["name"].get<std::string>().c_str(), r["group"].get<std::string>().c_str(),
                    r["measured_context"].get<double>(), p["perplexity"].get<double>(),
                    ci(p["perplexity_ci95"], "%.3f").c_str(), d["delta_perplexity"].get<double>(),
                    ci(d["delta_perplexity_ci95"], "%+.3f").c_str(),
                    rf.is_null() ? "-" : rf["against"].get<std::string>().c_str(),
                    rf.is_null() ? "-" : (std::to_string(rf["delta_perplexity"].get<double>()).substr(0, 8)).c_str(),
                    rf.is_null() ? "" : ci(rf["delta_perplexity_ci95"], "%+.3f").c_str());
      s += line;
    }
    s += "per document (dense):\n";
    for (const auto& d : mo["dense"]["documents"]) {
      std::snprintf(line, sizeof line, "  %-60s %8lld predictions  PPL %9.4f  acc %.4f\n",
                    d["name"].get<std::string>().c_str(), (long long)d["predictions"].get<int64_t>(),
                    d["perplexity"].get<double>(), d["accuracy"].get<double>());
      s += line;
    }
  }
  return s;
}

}  // namespace headscope
