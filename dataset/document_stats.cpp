#include "dataset/document_stats.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace headscope {

namespace {

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double pooled_ppl(const std::vector<DocScore>& d, const std::vector<int64_t>& idx) {
  double s = 0;
  int64_t n = 0;
  for (int64_t i : idx) {
    s += d[i].nll_sum;
    n += d[i].predictions;
  }
  return std::exp(s / double(n));
}

double pooled_acc(const std::vector<DocScore>& d, const std::vector<int64_t>& idx) {
  int64_t c = 0, n = 0;
  for (int64_t i : idx) {
    c += d[i].correct;
    n += d[i].predictions;
  }
  return double(c) / double(n);
}

Interval interval_of(std::vector<double> v, double level) {
  Interval iv;
  if (v.empty()) return iv;
  std::sort(v.begin(), v.end());
  const double a = (1.0 - level) / 2.0;
  iv.valid = true;
  iv.lo = percentile_sorted(v, a);
  iv.hi = percentile_sorted(v, 1.0 - a);
  return iv;
}

void check_opt(const BootstrapOptions& opt) {
  require(opt.resamples >= 1, "bootstrap: the number of resamples must be >= 1");
  require(opt.level > 0 && opt.level < 1, "bootstrap: the interval level must be in (0, 1)");
}

}  // namespace

double DocScore::ppl() const { return std::exp(mean_nll()); }

nlohmann::json DocScore::to_json() const {
  return {{"name", name},       {"predictions", predictions}, {"nll_sum", nll_sum},
          {"correct", correct}, {"perplexity", ppl()},        {"accuracy", accuracy()}};
}

DocScore DocScore::from_json(const nlohmann::json& j) {
  for (const char* k : {"name", "predictions", "nll_sum", "correct"})
    require(j.is_object() && j.contains(k), std::string("document result without '") + k + "'");
  DocScore d;
  d.name = j["name"].get<std::string>();
  d.predictions = j["predictions"].get<int64_t>();
  d.nll_sum = j["nll_sum"].get<double>();
  d.correct = j["correct"].get<int64_t>();
  return d;
}

DocScore make_doc_score(const std::string& name, const std::vector<double>& nll, int64_t correct) {
  DocScore d;
  d.name = name;
  d.predictions = static_cast<int64_t>(nll.size());
  for (double x : nll) d.nll_sum += x;
  d.correct = correct;
  return d;
}

nlohmann::json Interval::to_json() const {
  if (!valid) return nullptr;
  return nlohmann::json::array({lo, hi});
}

nlohmann::json PooledScore::to_json() const {
  return {{"documents", documents},   {"predictions", predictions},
          {"mean_nll", mean_nll},     {"perplexity", ppl},
          {"accuracy", accuracy},     {"perplexity_ci95", ppl_ci.to_json()},
          {"accuracy_ci95", accuracy_ci.to_json()}};
}

nlohmann::json PairedDifference::to_json() const {
  return {{"against", against},
          {"delta_perplexity", delta_ppl},
          {"delta_pct", delta_pct},
          {"delta_accuracy", delta_accuracy},
          {"delta_perplexity_ci95", delta_ppl_ci.to_json()},
          {"delta_accuracy_ci95", delta_accuracy_ci.to_json()},
          {"documents_worse", documents_worse}};
}

double percentile_sorted(const std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  const double pos = q * double(v.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(pos));
  if (i + 1 >= v.size()) return v.back();
  const double f = pos - double(i);
  return v[i] + f * (v[i + 1] - v[i]);
}

std::vector<std::vector<int64_t>> bootstrap_indices(int64_t n, const BootstrapOptions& opt) {
  check_opt(opt);
  uint64_t s = opt.seed;
  std::vector<std::vector<int64_t>> out(opt.resamples, std::vector<int64_t>(n));
  for (auto& r : out)
    for (auto& i : r)  // multiply-shift: maps 64 random bits onto [0, n)
      i = static_cast<int64_t>((static_cast<unsigned __int128>(splitmix64(s)) * uint64_t(n)) >> 64);
  return out;
}

PooledScore pool_documents(const std::vector<DocScore>& docs, const BootstrapOptions& opt) {
  require(!docs.empty(), "no document results to pool");
  PooledScore p;
  p.documents = static_cast<int64_t>(docs.size());
  double s = 0;
  int64_t c = 0;
  for (const auto& d : docs) {
    require(d.predictions > 0, "document " + d.name + " has no predictions");
    s += d.nll_sum;
    p.predictions += d.predictions;
    c += d.correct;
  }
  p.mean_nll = s / double(p.predictions);
  p.ppl = std::exp(p.mean_nll);
  p.accuracy = double(c) / double(p.predictions);
  if (docs.size() >= 2) {
    std::vector<double> ppl, acc;
    for (const auto& idx : bootstrap_indices(p.documents, opt)) {
      ppl.push_back(pooled_ppl(docs, idx));
      acc.push_back(pooled_acc(docs, idx));
    }
    p.ppl_ci = interval_of(std::move(ppl), opt.level);
    p.accuracy_ci = interval_of(std::move(acc), opt.level);
  }
  return p;
}

PairedDifference paired_difference(const std::vector<DocScore>& a, const std::vector<DocScore>& ref,
                                   const std::string& against, const BootstrapOptions& opt) {
  require(a.size() == ref.size() && !a.empty(),
          "paired difference against " + against + ": different numbers of documents");
  for (size_t i = 0; i < a.size(); ++i)
    require(a[i].name == ref[i].name && a[i].predictions == ref[i].predictions,
            "paired difference against " + against + ": document " + std::to_string(i + 1) +
                " differs (" + a[i].name + " vs " + ref[i].name + ")");
  PairedDifference d;
  d.against = against;
  const PooledScore pa = pool_documents(a, opt), pr = pool_documents(ref, opt);
  d.delta_ppl = pa.ppl - pr.ppl;
  d.delta_pct = 100.0 * d.delta_ppl / pr.ppl;
  d.delta_accuracy = pa.accuracy - pr.accuracy;
  for (size_t i = 0; i < a.size(); ++i) d.documents_worse += a[i].ppl() > ref[i].ppl();
  if (a.size() >= 2) {
    std::vector<double> dp, da;
    for (const auto& idx : bootstrap_indices(static_cast<int64_t>(a.size()), opt)) {
      dp.push_back(pooled_ppl(a, idx) - pooled_ppl(ref, idx));
      da.push_back(pooled_acc(a, idx) - pooled_acc(ref, idx));
    }
    d.delta_ppl_ci = interval_of(std::move(dp), opt.level);
    d.delta_accuracy_ci = interval_of(std::move(da), opt.level);
  }
  return d;
}

}  // namespace headscope
