// Results over documents. Every document keeps its own sums (predictions, summed NLL, correct
// argmax predictions); pooled figures are token-weighted, i.e. the standard corpus perplexity:
//   PPL = exp(sum of all NLLs / number of all predictions), accuracy = correct / predictions
// (not the mean of per-document PPLs). Uncertainty: a percentile bootstrap over documents
// (documents resampled with replacement, the pooled statistic recomputed per resample), seeded
// and reproducible (splitmix64; the same seed gives the same interval on every platform).
// Paired differences resample the same documents for both sides, so the interval reflects the
// per-document pairing. With a single document there is no interval (null in JSON).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace headscope {

struct DocScore {
  std::string name;
  int64_t predictions = 0;
  double nll_sum = 0;
  int64_t correct = 0;

  double mean_nll() const { return predictions > 0 ? nll_sum / double(predictions) : 0; }
  double ppl() const;
  double accuracy() const { return predictions > 0 ? double(correct) / double(predictions) : 0; }
  nlohmann::json to_json() const;  // name, predictions, nll_sum, correct, perplexity, accuracy
  static DocScore from_json(const nlohmann::json& j);  // throws Error on missing fields
};

// From per-prediction NLLs and the number of correct argmax predictions.
DocScore make_doc_score(const std::string& name, const std::vector<double>& nll, int64_t correct);

struct BootstrapOptions {
  int64_t resamples = 1000;
  uint64_t seed = 0;
  double level = 0.95;
};

struct Interval {
  bool valid = false;  // false with fewer than 2 documents
  double lo = 0, hi = 0;
  nlohmann::json to_json() const;  // [lo, hi] or null
};

struct PooledScore {
  int64_t documents = 0, predictions = 0;
  double mean_nll = 0, ppl = 0, accuracy = 0;
  Interval ppl_ci, accuracy_ci;
  nlohmann::json to_json() const;
};

struct PairedDifference {
  std::string against;  // what the reference side is (e.g. "dense")
  double delta_ppl = 0, delta_pct = 0, delta_accuracy = 0;  // this minus reference (pooled)
  Interval delta_ppl_ci, delta_accuracy_ci;
  int64_t documents_worse = 0;  // documents whose own PPL is higher than the reference's
  nlohmann::json to_json() const;
};

PooledScore pool_documents(const std::vector<DocScore>& docs, const BootstrapOptions& opt = {});

// `a` and `ref` must list the same documents (names and prediction counts) in the same order.
PairedDifference paired_difference(const std::vector<DocScore>& a, const std::vector<DocScore>& ref,
                                   const std::string& against, const BootstrapOptions& opt = {});

// Percentile (linear interpolation between order statistics, numpy's default) of sorted values.
double percentile_sorted(const std::vector<double>& sorted, double q);

// The seeded generator the bootstrap uses: resample r (0-based) of n documents, as indices.
std::vector<std::vector<int64_t>> bootstrap_indices(int64_t n, const BootstrapOptions& opt);

}  // namespace headscope
