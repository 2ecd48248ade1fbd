// The Llama family (Llama, Mistral, Qwen2, Qwen3; GQA) against the independent float64
// references in ../shared/fixtures/{llama-tinystories-656k,tiny-random-*}:
//  - forward_first128: logits (relative L2 < 1e-4), per-query-head attention maps (max abs
//    < 1e-4), per-position NLL (< 1e-4), argmax;
//  - reference_values_f64.json: dense PPLs, mask-engine PPLs with every KV head under one
//    sink/window, the per-[layer][KV head] mixed_policy, and the decoder over a real cache of
//    KV heads compressed per KV head, both position conventions (PPL 1e-4 relative);
//  - cross-engine: the mask engine vs the real cache under mixed_policy, per token
//    |dNLL| < 1e-4;
//  - head_stats_f64.json: the Python original's per-query-head statistics on TinyStories
//    (max abs 1e-4), plus the per-KV-head aggregates derived from them.
// Token ids: tests/data/llama_ids.json (made with HF tokenizers by tests/data/make_llama_ids.py;
// checked here against the fixtures' own ids).
#include <doctest/doctest.h>

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <cstdio>
#include <fstream>

#include "analyzer/analyzer.h"
#include "compress/compressor.h"
#include "eval/decode_eval.h"
#include "eval/parallel_eval.h"
#include "tests/forward_check.h"
#include "tests/support.h"

using namespace headscope;

namespace {

const char* const kModels[] = {"llama-tinystories-656k", "tiny-random-qwen2", "tiny-random-qwen3",
                               "tiny-random-llama3", "tiny-random-mistral"};

nlohmann::json load_json(const std::string& path) {
  std::ifstream f(path);
  REQUIRE_MESSAGE(f.good(), "cannot read " << path);
  return nlohmann::json::parse(f);
}

nlohmann::json reference(const std::string& model) {
  return load_json(test::shared("fixtures/" + model + "/reference_values_f64.json"));
}

// The evaluation ids of a model's fixture (eval_tokens of its text), checked against first_ids.
std::vector<int64_t> eval_ids(const std::string& model, const nlohmann::json& ref) {
  const std::string text = ref["text"] == "sample.txt" ? "data/tinystories/sample.txt"
                                                       : "data/children/velveteen_aesop.txt";
  nlohmann::json ids = load_json(test::repo("tests/data/llama_ids.json"));
  std::vector<int64_t> v = ids[text]["ids"].get<std::vector<int64_t>>();
  const size_t n = ref["eval_tokens"].get<size_t>();
  REQUIRE(v.size() >= n);
  v.resize(n);
  std::vector<int64_t> first = ref["first_ids"].get<std::vector<int64_t>>();
  REQUIRE(std::equal(first.begin(), first.end(), v.begin()));
  CHECK(ids[text]["total_tokens"].get<int64_t>() == ref["total_tokens"].get<int64_t>());
  (void)model;
  return v;
}

int64_t correct(double acc, size_t n) { return std::llround(acc * double(n - 1)); }

void check_ppl(const std::string& what, const EvalResult& r, const nlohmann::json& ref, size_t n,
               double tol = 1e-4, int64_t acc_slack = 0) {
  const double rp = ref["ppl"].get<double>(), ra = ref["acc"].get<double>();
  const double rel = std::abs(r.ppl - rp) / rp;
  MESSAGE(what << ": ppl " << r.ppl << " vs " << rp << " (rel " << rel << "), acc " << r.accuracy
               << " vs " << ra);
  CHECK_MESSAGE(rel < tol, what << " relative PPL error " << rel);
  CHECK_MESSAGE(std::llabs(correct(r.accuracy, n) - correct(ra, n)) <= acc_slack,
                what << " accuracy " << r.accuracy << " vs " << ra);
}

// mixed_policy: per [layer][KV head] sink/window.
Visibility mixed_policy(const nlohmann::json& ref) {
  const auto& mp = ref["mixed_policy"];
  const int64_t L = int64_t(mp["window"].size()), KV = int64_t(mp["window"][0].size());
  Visibility v(L, KV);
  for (int64_t l = 0; l < L; ++l)
    for (int64_t h = 0; h < KV; ++h)
      v.at(l, h) = HeadWindow{mp["sink"][size_t(l)][size_t(h)].get<int64_t>(),
                              mp["window"][size_t(l)][size_t(h)].get<int64_t>()};
  return v;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::abs(a[i] - b[i]);
    if (!(e <= d)) d = std::isnan(e) ? INFINITY : e;
  }
  return d;
}

// tol: relative PPL. The norm-ranked methods (fix_size_l2, l2) are chaotic against a float64
// reference: in layer 0 repeated tokens have identical un-rotated keys, so their norms tie
// exactly and rounding (float32 here, float64 there) decides which copy is evicted; every
// different choice changes all later tokens (measured: 2.7e-4 to 2.2e-2 relative PPL, the
// largest on tiny-random-llama3 whose per-token NLLs reach 20 nats). They are checked at 3e-2
// and +-2 correct predictions; StreamingLLM and recent-only (no ranking) at 1e-4, exactly.
struct Policy {
  std::string key, method;
  MethodOptions opt;
  double tol = 1e-4;
  int64_t acc_slack = 0;
};

std::vector<Policy> policies() {
  std::vector<Policy> p;
  MethodOptions o;
  o.set("start-size", int64_t(4));
  o.set("recent-size", int64_t(124));
  p.push_back({"streaming_start4_recent124", "streaming_llm", o});
  o = {};
  o.set("window", int64_t(128));
  p.push_back({"recent_only_128", "recent_only", o});
  o = {};
  o.set("fix-kv-size", int64_t(128));
  o.set("keep-ratio", 0.5);
  o.set("strategy", std::string("keep_low"));
  p.push_back({"fix_size_l2_keep_low_128_kr0.5", "fix_size_l2", o, 3e-2, 2});
  o = {};
  o.set("keep-ratio", 0.8);
  o.set("prune-after", int64_t(256));
  p.push_back({"l2_compress_kr0.8_after256", "l2", o, 3e-2, 2});
  return p;
}

}  // namespace

TEST_SUITE("fixture_llama") {
  TEST_CASE("forward_first128: logits, per-query-head attention, NLL") {
    for (const char* name : kModels) {
      const std::string name_s = name;
      CAPTURE(name_s);
      c10::InferenceMode guard;
      SafeTensors fx = SafeTensors::open(test::shared(std::string("fixtures/") + name + "/forward_first128.safetensors"));
      at::Tensor ids = test::fixture_tensor(fx, "input_ids");
      Model m = Model::load(test::shared(std::string("models/") + name));
      test::MapCollector obs(ids.size(0));
      ParallelAttentionOptions po;
      po.observer = &obs;
      po.query_block = 48;  // several blocks
      at::Tensor hidden = m.forward_hidden(ids, parallel_attention(m, po));
      at::Tensor logits = m.logits(hidden).cpu();
      auto rel = [](const at::Tensor& a, const at::Tensor& b) {
        return (a - b).norm().item<double>() / b.norm().item<double>();
      };
      const double e8 = rel(logits.narrow(0, 0, 8), test::fixture_tensor(fx, "logits_first8"));
      const double el = rel(logits[-1], test::fixture_tensor(fx, "logits_last"));
      std::vector<int64_t> v(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
      EvalResult r = evaluate_parallel(m, v);
      at::Tensor nll = at::tensor(r.nll, at::TensorOptions().dtype(at::kDouble));
      // NLL tolerance 1e-4 relative (the fixtures' README), per token, with a floor of 1 nat:
      // the random models' NLLs are 10-20 nats, where float32 leaves ~1e-4 absolute.
      at::Tensor nref = test::fixture_tensor(fx, "nll").to(at::kDouble);
      const double en = ((nll - nref).abs() / nref.abs().clamp_min(1.0)).max().item<double>();
      MESSAGE(name_s << ": logits rel L2 first8 " << e8 << ", last " << el << "; max |dNLL|/max(1,NLL) " << en);
      CHECK(e8 < 1e-4);
      CHECK(el < 1e-4);
      CHECK(en < 1e-4);
      for (int64_t l = 0; l < m.config().num_layers; ++l) {
        at::Tensor ref = test::fixture_tensor(fx, "attn." + std::to_string(l));
        REQUIRE(obs.maps[l].sizes() == ref.sizes());  // per query head
        const double ea = (obs.maps[l] - ref).abs().max().item<double>();
        CHECK_MESSAGE(ea < 1e-4, "layer " << l << " attention max abs err " << ea);
      }
      TokenScores sc = m.score(hidden.narrow(0, 0, ids.size(0) - 1), ids.narrow(0, 1, ids.size(0) - 1));
      CHECK(at::equal(sc.argmax, test::fixture_tensor(fx, "argmax")));
    }
  }

  TEST_CASE("dense and mask-engine PPLs (every KV head; mixed per-KV-head policy)") {
    for (const char* name : kModels) {
      const std::string name_s = name;
      CAPTURE(name_s);
      c10::InferenceMode guard;
      nlohmann::json ref = reference(name);
      std::vector<int64_t> ids = eval_ids(name, ref);
      Model m = Model::load(test::shared(std::string("models/") + name));
      const int64_t N = int64_t(ids.size()), L = m.config().num_layers, KV = m.config().num_kv_heads;
      for (int64_t n : {N / 4, N / 2, N}) {
        const std::string key = "dense_first" + std::to_string(n);
        REQUIRE(ref.contains(key));
        std::vector<int64_t> sub(ids.begin(), ids.begin() + n);
        check_ppl(std::string(name) + " " + key, evaluate_parallel(m, sub), ref[key], sub.size());
      }
      for (auto& [key, val] : ref.items()) {
        if (key.rfind("mask_sink", 0) != 0) continue;
        int64_t S = 0, W = 0;
        REQUIRE(std::sscanf(key.c_str(), "mask_sink%ld_window%ld", &S, &W) == 2);
        Visibility vis(L, KV, HeadWindow{S, W});  // per KV head
        ParallelEvalOptions po;
        po.visibility = &vis;
        po.query_block = 100;
        check_ppl(std::string(name) + " " + key, evaluate_parallel(m, ids, po), val, ids.size());
      }
      Visibility mixed = mixed_policy(ref);
      ParallelEvalOptions po;
      po.visibility = &mixed;
      po.query_block = 100;
      check_ppl(std::string(name) + " mask_mixed_policy", evaluate_parallel(m, ids, po),
                ref["mask_mixed_policy"], ids.size());
    }
  }

  TEST_CASE("decoder over a cache of KV heads, compressed per KV head, both position conventions") {
    at::set_num_threads(1);
    for (const char* name : kModels) {
      const std::string name_s = name;
      CAPTURE(name_s);
      c10::InferenceMode guard;
      nlohmann::json ref = reference(name);
      std::vector<int64_t> ids = eval_ids(name, ref);
      Model m = Model::load(test::shared(std::string("models/") + name));
      for (const Policy& p : policies()) {
        for (PositionMode pm : {PositionMode::True, PositionMode::Cache}) {
          const std::string key = "decode_" + p.key + (pm == PositionMode::True ? "_truepos" : "_cachepos");
          REQUIRE_MESSAGE(ref.contains(key), key);
          auto c = make_compressor(p.method, p.opt);
          DecodeOptions d;
          d.positions = pm;
          d.compressor = c.get();
          EvalResult r = evaluate_decode(m, ids, d);
          check_ppl(std::string(name) + " " + key, r, ref[key], ids.size(), p.tol, p.acc_slack);
        }
      }
    }
  }

  TEST_CASE("cross-engine: mask engine vs real cache under the per-KV-head mixed_policy") {
    at::set_num_threads(1);
    for (const char* name : kModels) {
      const std::string name_s = name;
      CAPTURE(name_s);
      c10::InferenceMode guard;
      nlohmann::json ref = reference(name);
      std::vector<int64_t> ids = eval_ids(name, ref);
      Model m = Model::load(test::shared(std::string("models/") + name));
      Visibility vis = mixed_policy(ref);
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
      double rel = 0;
      for (size_t i = 0; i < dec.nll.size(); ++i)
        rel = std::max(rel, std::abs(dec.nll[i] - par.nll[i]) / std::max(1.0, std::abs(par.nll[i])));
      MESSAGE(name_s << " mixed_policy: decode ppl " << dec.ppl << ", parallel " << par.ppl
                   << ", max |dNLL| " << diff << ", max |dNLL|/max(1,NLL) " << rel);
      // Per token |dNLL| < 1e-4 as for GPT-NeoX; relative to max(1 nat, NLL) for the random
      // models whose NLLs reach 20 nats (tiny-random-llama3: 1.7e-4 absolute, 8e-6 relative).
      CHECK(rel < 1e-4);
      if (std::string(name) == "llama-tinystories-656k") CHECK(diff < 1e-4);
      CHECK(dec.accuracy == par.accuracy);
      check_ppl(std::string(name) + " decode mixed_policy", dec, ref["mask_mixed_policy"], ids.size());
    }
  }

  TEST_CASE("TinyStories: the analyzer's per-query-head statistics and KV-group aggregates") {
    c10::InferenceMode guard;
    const std::string name = "llama-tinystories-656k";
    nlohmann::json ref = load_json(test::shared("fixtures/" + name + "/head_stats_f64.json"));
    nlohmann::json ids_file = load_json(test::repo("tests/data/llama_ids.json"));
    std::vector<int64_t> ids = ids_file["data/tinystories/sample.txt"]["ids"].get<std::vector<int64_t>>();
    REQUIRE(ids.size() >= ref["tokens"].get<size_t>());
    ids.resize(ref["tokens"].get<size_t>());
    Model m = Model::load(test::shared("models/" + name));
    AnalysisOptions opt;
    opt.chunk_size = ref["chunk_size"].get<int64_t>();
    opt.stats.sink_size = ref["sink_size"].get<int64_t>();
    opt.stats.local_window = ref["local_window"].get<int64_t>();
    opt.stats.recent_ratio = ref["recent_ratio"].get<double>();
    AnalysisResult r = analyze_heads(m, ids, opt);
    REQUIRE(r.heads == 8);
    REQUIRE(r.kv_heads == 4);
    const auto& pq = ref["per_query_head"];
    double worst = 0;
    std::string worst_what;
    for (const auto& s : r.stats) {
      auto cmp = [&](const char* key, double mine, double theirs) {
        const double e = std::abs(mine - theirs);
        if (!(e <= worst)) {
          worst = e;
          worst_what = std::string(key) + " layer " + std::to_string(s.layer) + " head " + std::to_string(s.head);
        }
      };
      const size_t l = size_t(s.layer), h = size_t(s.head);
      cmp("entropy", s.mean_entropy, pq["entropy"][l][h]);
      cmp("std_entropy", s.std_entropy, pq["std_entropy"][l][h]);
      cmp("max", s.max_attention_mean, pq["max"][l][h]);
      cmp("sink", s.sink, pq["sink"][l][h]);
      cmp("recent", s.recent, pq["recent"][l][h]);
      cmp("local", s.local, pq["local"][l][h]);
      cmp("global", s.global, pq["global"][l][h]);
      cmp("uniformity", s.uniformity, pq["uniformity"][l][h]);
      for (size_t d = 0; d < s.relative_position_dist.size(); ++d)
        cmp("rel", s.relative_position_dist[d], pq["rel"][l][h][d]);
    }
    MESSAGE("per-query-head statistics: max abs error " << worst << " (" << worst_what << ")");
    CHECK(worst < 1e-4);
    // KV groups: query heads 2k, 2k+1 share KV head k; group statistics are their means.
    REQUIRE(r.groups.size() == 8);
    for (const auto& g : r.groups) {
      REQUIRE(g.query_heads.size() == 2);
      CHECK(g.query_heads[0] == 2 * g.kv_head);
      const double e0 = pq["entropy"][size_t(g.layer)][size_t(2 * g.kv_head)];
      const double e1 = pq["entropy"][size_t(g.layer)][size_t(2 * g.kv_head + 1)];
      CHECK(std::abs(g.stats.mean_entropy - (e0 + e1) / 2) < 1e-4);
      CHECK(std::abs(g.entropy_spread - std::abs(e0 - e1)) < 1e-4);
      CHECK(g.type_agreement >= 0);
      CHECK(g.distinct_types >= 1);
    }
    for (const auto& c : r.classes) CHECK(c.kv_head == c.head / 2);
  }
}
