// The token-by-token decoder over a real, compressed KV cache against independent references:
//  - reference_values_f64.json (float64 NumPy-style reference) decode_* numbers, both models,
//    both position conventions (truepos / cachepos);
//  - reference_eval.json seed_* numbers (the Python original on a GPU) with `cache` positions;
//  - the parallel mask engine: window_policy + `true` positions must give the same per-token NLL
//    as evaluate_parallel with the same Visibility, for uniform and mixed per-head policies.
// Text: the first 512 tokens of book 10146 (LF), tokenized with the model's tokenizer.
#include <doctest/doctest.h>

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <fstream>
#include <map>

#include "common/text.h"
#include "compress/compressor.h"
#include "eval/decode_eval.h"
#include "eval/parallel_eval.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "tests/support.h"

using namespace headscope;

namespace {

constexpr int64_t kTokens = 512;

std::vector<int64_t> eval_ids(const std::string& model_dir) {
  std::string text = load_text(test::repo("data/pg19-10146.txt"), Newlines::LF);
  text.resize(std::min<size_t>(text.size(), 12000));  // ~2900 tokens: the first 512 are exact
  std::vector<int64_t> ids = Tokenizer::load(model_dir).encode(text);
  REQUIRE(ids.size() >= size_t(kTokens));
  ids.resize(kTokens);
  return ids;
}

// Decoding is a chain of tiny ops: one intra-op thread avoids spin contention on shared cores.
void one_thread() { at::set_num_threads(1); }

nlohmann::json load_json(const std::string& path) {
  std::ifstream f(path);
  REQUIRE_MESSAGE(f.good(), "cannot read " << path);
  return nlohmann::json::parse(f);
}

struct Policy {
  std::string key;  // reference_values_f64.json decode_<key>_<truepos|cachepos>
  std::string method;
  MethodOptions opt;
  double tol;       // relative PPL tolerance
};

std::vector<Policy> policies() {
  std::vector<Policy> p;
  MethodOptions o;
  o.set("start-size", int64_t(4));
  o.set("recent-size", int64_t(124));
  p.push_back({"streaming_start4_recent124", "streaming_llm", o, 1e-4});
  o = {};
  o.set("window", int64_t(128));
  p.push_back({"recent_only_128", "recent_only", o, 1e-4});
  o = {};
  o.set("fix-kv-size", int64_t(128));
  o.set("keep-ratio", 0.5);
  o.set("strategy", std::string("keep_low"));
  p.push_back({"fix_size_l2_keep_low_128_kr0.5", "fix_size_l2", o, 1e-3});
  o.set("strategy", std::string("keep_high"));
  p.push_back({"fix_size_l2_keep_high_128_kr0.5", "fix_size_l2", o, 1e-3});
  o = {};
  o.set("keep-ratio", 0.8);
  o.set("prune-after", int64_t(256));
  p.push_back({"l2_compress_kr0.8_after256", "l2", o, 1e-3});
  return p;
}

EvalResult run(const Model& m, const std::vector<int64_t>& ids, const std::string& method,
               const MethodOptions& o, PositionMode pm) {
  std::unique_ptr<Compressor> c;
  if (method != "dense") c = make_compressor(method, o);
  DecodeOptions d;
  d.positions = pm;
  d.compressor = c.get();
  return evaluate_decode(m, ids, d);
}

int64_t correct(double acc) { return std::llround(acc * double(kTokens - 1)); }

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::abs(a[i] - b[i]);
    if (!(e <= d)) d = std::isnan(e) ? INFINITY : e;  // a NaN counts as an infinite difference
  }
  return d;
}

// The norm-based methods pick among nearly equal key norms: in layer 0 a repeated token has
// mathematically identical keys, so which copy survives is decided by rounding (float32 here,
// float64 in the reference), and each flip changes everything after it. Measured: perturbing
// the norms by a relative 1e-6 (the size of float32-vs-float64 key differences) moves the
// 70m l2 kr0.8/after256 PPL over 82.72..82.89 (truepos; reference 82.724) and
// 106.72..107.61 (cachepos; reference 106.924), and 14m keep_high cachepos by ~0.2%. Those
// three configurations get 1e-2; every other one keeps the 1e-4 / 1e-3, and the
// accuracy must match exactly everywhere.
double tolerance(const std::string& model, const std::string& key, double tol) {
  static const std::vector<std::pair<std::string, std::string>> chaotic = {
      {"neox-gutenberg-14m", "decode_fix_size_l2_keep_high_128_kr0.5_cachepos"},
      {"neox-gutenberg-70m", "decode_l2_compress_kr0.8_after256_truepos"},
      {"neox-gutenberg-70m", "decode_l2_compress_kr0.8_after256_cachepos"}};
  for (const auto& [m, k] : chaotic)
    if (m == model && k == key) return 1e-2;
  return tol;
}

// f64 decode references for one model; returns the `cache`-position results by policy key.
std::map<std::string, EvalResult> check_f64(const std::string& name) {
  c10::InferenceMode guard;
  one_thread();
  const std::string dir = test::shared("models/" + name);
  Model m = Model::load(dir);
  std::vector<int64_t> ids = eval_ids(dir);
  nlohmann::json ref = load_json(test::shared("fixtures/" + name + "/reference_values_f64.json"));
  std::map<std::string, EvalResult> cache_results;
  for (const Policy& p : policies()) {
    for (PositionMode pm : {PositionMode::True, PositionMode::Cache}) {
      const std::string key = "decode_" + p.key + (pm == PositionMode::True ? "_truepos" : "_cachepos");
      REQUIRE_MESSAGE(ref.contains(key), key);
      EvalResult r = run(m, ids, p.method, p.opt, pm);
      const double rp = ref[key]["ppl"].get<double>(), ra = ref[key]["acc"].get<double>();
      const double rel = std::abs(r.ppl - rp) / rp;
      MESSAGE(name << " " << key << ": ppl " << r.ppl << " vs " << rp << " (rel " << rel
                   << "), acc " << r.accuracy << " vs " << ra);
      CHECK_MESSAGE(rel < tolerance(name, key, p.tol), key << " relative PPL error " << rel);
      CHECK_MESSAGE(correct(r.accuracy) == correct(ra), key << " accuracy " << r.accuracy << " vs " << ra);
      CHECK(r.positions == to_string(pm));
      if (pm == PositionMode::Cache) cache_results.emplace(p.key, r);
    }
  }
  return cache_results;
}

// A per-head visibility: different sink/window per head, full and dead heads included.
Visibility mixed_visibility(int64_t L, int64_t H) {
  Visibility v(L, H);
  const HeadWindow pool[] = {{0, -1}, {4, 60}, {0, 0}, {2, 17}, {0, 128}, {8, 33}, {1, 1}, {16, 200}};
  for (int64_t l = 0; l < L; ++l)
    for (int64_t h = 0; h < H; ++h) v.at(l, h) = pool[(l * 3 + h * 5) % 8];
  v.at(L - 1, 0) = HeadWindow{0, -1};  // a layer with full and windowed heads
  return v;
}

void cross_engine(const Model& m, const std::vector<int64_t>& ids, const Visibility& vis,
                  const std::string& what, EvalResult* out = nullptr) {
  ParallelEvalOptions po;
  po.visibility = &vis;
  po.query_block = 100;
  EvalResult par = evaluate_parallel(m, ids, po);
  auto wp = make_window_policy(vis);
  DecodeOptions d;
  d.positions = PositionMode::True;
  d.compressor = wp.get();
  EvalResult dec = evaluate_decode(m, ids, d);
  const double diff = max_abs_diff(dec.nll, par.nll);
  MESSAGE(what << ": decode ppl " << dec.ppl << ", parallel " << par.ppl << ", max |dNLL| " << diff);
  CHECK_MESSAGE(diff < 1e-4, what << ": max |dNLL| " << diff);
  CHECK(dec.accuracy == par.accuracy);
  if (out) *out = dec;
}

}  // namespace

TEST_SUITE("fixture_decode") {
  TEST_CASE("neox-gutenberg-14m: f64 decode references and the Python original's numbers") {
    auto cache_results = check_f64("neox-gutenberg-14m");
    // reference_eval.json seed_*: the Python original, GPU float32, `cache` positions.
    c10::InferenceMode guard;
    const std::string dir = test::shared("models/neox-gutenberg-14m");
    nlohmann::json seed = load_json(test::shared("fixtures/neox-gutenberg-14m/reference_eval.json"));
    const std::map<std::string, std::string> seed_of = {
        {"seed_streaming_4_124", "streaming_start4_recent124"},
        {"seed_recent_128", "recent_only_128"},
        {"seed_fixl2_keeplow_128_kr0.5", "fix_size_l2_keep_low_128_kr0.5"},
        {"seed_l2_kr0.8_after256", "l2_compress_kr0.8_after256"}};
    Model m = Model::load(dir);
    std::vector<int64_t> ids = eval_ids(dir);
    EvalResult dense = run(m, ids, "dense", {}, PositionMode::Cache);
    cache_results.emplace("dense", dense);
    auto check_seed = [&](const std::string& key, const EvalResult& r) {
      const double rp = seed[key]["perplexity"].get<double>(), ra = seed[key]["accuracy"].get<double>();
      const double rel = std::abs(r.ppl - rp) / rp;
      MESSAGE(key << ": ppl " << r.ppl << " vs " << rp << " (rel " << rel << "), acc " << r.accuracy
                  << " vs " << ra << ", final cache " << r.extra["final_cache_size"]);
      CHECK_MESSAGE(rel < 1e-3, key << " relative PPL error " << rel);
      CHECK_MESSAGE(std::abs(r.accuracy - ra) <= 0.002, key << " accuracy " << r.accuracy);
      CHECK(r.extra["final_cache_size"].get<int64_t>() == seed[key]["final_cache_size"].get<int64_t>());
    };
    check_seed("seed_dense", dense);
    for (auto& [sk, pk] : seed_of) check_seed(sk, cache_results.at(pk));
    // the dense decode equals the parallel dense forward token by token
    EvalResult par = evaluate_parallel(m, ids);
    CHECK(max_abs_diff(dense.nll, par.nll) < 1e-4);
  }

  TEST_CASE("neox-gutenberg-70m: f64 decode references") { check_f64("neox-gutenberg-70m"); }

  TEST_CASE("window_policy decoding equals the parallel mask engine") {
    c10::InferenceMode guard;
    one_thread();
    const std::string dir = test::shared("models/neox-gutenberg-14m");
    Model m = Model::load(dir);
    std::vector<int64_t> ids = eval_ids(dir);
    const int64_t L = m.config().num_layers, H = m.config().num_heads;
    nlohmann::json ref = load_json(test::shared("fixtures/neox-gutenberg-14m/reference_values_f64.json"));

    EvalResult sw;
    cross_engine(m, ids, Visibility(L, H, HeadWindow{4, 125}), "sink4/window125", &sw);
    // = StreamingLLM 4 + 124 with true positions (128 cached entries + the query itself)
    const double rp = ref["mask_sink4_window125"]["ppl"].get<double>();
    CHECK(std::abs(sw.ppl - rp) / rp < 1e-4);
    CHECK(std::abs(ref["decode_streaming_start4_recent124_truepos"]["ppl"].get<double>() - rp) / rp < 1e-9);
    EvalResult w128;
    cross_engine(m, ids, Visibility(L, H, HeadWindow{0, 128}), "window128", &w128);
    const double rw = ref["mask_sink0_window128"]["ppl"].get<double>();
    CHECK(std::abs(w128.ppl - rw) / rw < 1e-4);
    cross_engine(m, ids, mixed_visibility(L, H), "mixed per-head");
  }

  TEST_CASE("shifted positions: dense equals the parallel forward; streaming re-rotates by slot") {
    c10::InferenceMode guard;
    one_thread();
    const std::string dir = test::shared("models/neox-gutenberg-14m");
    Model m = Model::load(dir);
    std::vector<int64_t> ids = eval_ids(dir);
    ids.resize(200);
    // without eviction slot index = text position: shifted == true == parallel
    EvalResult dense = run(m, ids, "dense", {}, PositionMode::Shifted);
    EvalResult par = evaluate_parallel(m, ids);
    CHECK(max_abs_diff(dense.nll, par.nll) < 1e-4);
    // streaming 4+60 over 200 tokens: identical to `true` until the first eviction (after
    // token 64), different afterwards (keys re-rotated by slot), and finite
    MethodOptions o;
    o.set("start-size", int64_t(4));
    o.set("recent-size", int64_t(60));
    EvalResult sh = run(m, ids, "streaming_llm", o, PositionMode::Shifted);
    EvalResult tr = run(m, ids, "streaming_llm", o, PositionMode::True);
    std::vector<double> a(sh.nll.begin(), sh.nll.begin() + 64), b(tr.nll.begin(), tr.nll.begin() + 64);
    CHECK(max_abs_diff(a, b) < 1e-4);
    CHECK(std::abs(sh.nll[150] - tr.nll[150]) > 1e-6);
    CHECK(std::isfinite(sh.ppl));
    CHECK(sh.extra["final_cache_size"].get<int64_t>() == 64);
    CHECK(sh.positions == "shifted");
  }

  TEST_CASE("neox-gutenberg-70m: mixed per-head policy, decode = parallel") {
    c10::InferenceMode guard;
    one_thread();
    const std::string dir = test::shared("models/neox-gutenberg-70m");
    Model m = Model::load(dir);
    std::vector<int64_t> ids = eval_ids(dir);
    ids.resize(300);
    cross_engine(m, ids, mixed_visibility(m.config().num_layers, m.config().num_heads),
                 "70m mixed per-head (300 tokens)");
  }
}
