// The parallel mask engine against the token-by-token references, on the first 512 tokens of
// PG-19 book 10146 (LF):
// - reference_eval.json (the Python original's own head-aware-mask evaluation, 14m):
//   seed_mask_B_streaming_128 and seed_mask_A_window_128, built from configs/ablation.toml;
// - reference_values_f64.json (independent float64 reference, both models): every mask_*.
// And the seed classification file of Pythia-2.8b (1024 heads, legacy types) gives the
// published per-type windows and effective contexts for the ablation groups.
#include <doctest/doctest.h>

#include <fstream>
#include <regex>

#include "analyzer/head_classification.h"
#include "common/atomic_file.h"
#include "common/text.h"
#include "eval/parallel_eval.h"
#include "headaware/ablation_config.h"
#include "headaware/ablation_runner.h"
#include "headaware/policy_builders.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "tests/support.h"

using namespace headscope;

namespace {

std::vector<int64_t> first_512() {
  static std::vector<int64_t> ids = [] {
    Tokenizer tok = Tokenizer::load(test::bundled_model());
    // The first 12000 characters hold about 3000 tokens: only the last word can tokenize
    // differently from the whole book, so the first 512 tokens are the book's.
    std::string text = load_text(test::repo("data/pg19-10146.txt"), Newlines::LF).substr(0, 12000);
    std::vector<int64_t> v = tok.encode(text);
    REQUIRE(v.size() >= 1024);
    v.resize(512);
    return v;
  }();
  return ids;
}

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_file(path)); }

const AblationConfig& seed_config(const AblationPlan& plan, const std::string& name) {
  for (const auto& c : plan.configs)
    if (c.name == name) return c;
  FAIL("configs/ablation.toml has no " << name);
  return plan.configs.front();
}

void check_f64_masks(const std::string& model_name) {
  Model m = Model::load(test::shared("models/" + model_name));
  nlohmann::json ref = read_json(test::shared("fixtures/" + model_name + "/reference_values_f64.json"));
  REQUIRE(ref["eval_tokens"] == 512);
  const std::vector<int64_t> ids = first_512();
  const std::regex key_re("mask_sink(\\d+)_window(\\d+)");
  int n = 0;
  for (auto& [key, val] : ref.items()) {
    std::smatch mt;
    if (!std::regex_match(key, mt, key_re)) continue;
    ++n;
    UniformParams p;
    p.sink = std::stoll(mt[1]);
    p.window = std::stoll(mt[2]);
    Visibility v = uniform_policy(m.config().num_layers, m.config().num_heads, p);
    ParallelEvalOptions po;
    po.visibility = &v;
    po.query_block = auto_query_block(512, false);
    EvalResult r = evaluate_parallel(m, ids, po);
    const double want = val["ppl"].get<double>();
    const double rel = std::abs(r.ppl - want) / want;
    MESSAGE(model_name << " " << key << ": ppl " << r.ppl << " vs f64 " << want << " (rel "
                       << rel << "), acc " << r.accuracy << " vs " << val["acc"].get<double>());
    CHECK(rel < 1e-4);
    CHECK(r.accuracy == val["acc"].get<double>());
  }
  CHECK(n == 7);
  // dense for completeness: the mask engine without a policy is the full causal forward
  ParallelEvalOptions po;
  EvalResult d = evaluate_parallel(m, ids, po);
  CHECK(std::abs(d.ppl / ref["dense_first512"]["ppl"].get<double>() - 1) < 1e-4);
}

}  // namespace

TEST_SUITE("fixture_mask") {
  TEST_CASE("seed head-aware mask evaluations (Python original, 14m) from configs/ablation.toml") {
    Model m = Model::load(test::shared("models/neox-gutenberg-14m"));
    nlohmann::json ref = read_json(test::shared("fixtures/neox-gutenberg-14m/reference_eval.json"));
    AblationPlan plan = load_ablation_plan(test::repo("configs/ablation.toml"));
    const std::vector<int64_t> ids = first_512();
    for (const std::string name : {"B_streaming_128", "A_window_128"}) {
      const nlohmann::json& want = ref["seed_mask_" + name];
      AblationRecord r = evaluate_config(m, ids, seed_config(plan, name), nullptr);
      const double rel = std::abs(r.perplexity - want["perplexity"].get<double>()) /
                         want["perplexity"].get<double>();
      MESSAGE(name << ": ppl " << r.perplexity << " vs seed " << want["perplexity"].get<double>()
                   << " (rel " << rel << "), acc " << r.accuracy << " vs "
                   << want["accuracy"].get<double>() << ", nominal context " << r.nominal_context);
      CHECK(rel < 1e-3);
      CHECK(std::abs(r.accuracy - want["accuracy"].get<double>()) < 1e-9);
      CHECK(r.nominal_context == want["effective_context"].get<double>());
    }
  }

  TEST_CASE("mask_* of the float64 reference, neox-gutenberg-14m") { check_f64_masks("neox-gutenberg-14m"); }
  TEST_CASE("mask_* of the float64 reference, neox-gutenberg-70m") { check_f64_masks("neox-gutenberg-70m"); }

  TEST_CASE("pythia-2.8b seed classifications: per-type windows and published effective contexts") {
    ClassificationFile f =
        read_classifications(test::shared("fixtures/seed-format/pythia-2.8b_head_classifications.json"));
    REQUIRE(f.num_layers == 32);
    REQUIRE(f.num_heads == 32);
    AblationPlan plan = load_ablation_plan(test::repo("configs/ablation.toml"));
    auto build = [&](const std::string& name) { return seed_config(plan, name).build(32, 32, &f); };
    using Hist = std::map<int64_t, int64_t>;
    // 370 positional (365 recommend 8, 5 recommend 16), 566 mixed, 88 gathering
    CHECK(window_histogram(from_classifications_policy(f, {})) == Hist{{-1, 88}, {8, 365}, {16, 5}, {64, 566}});
    CHECK(window_histogram(build("I_pos256_mix128_g128")) == Hist{{128, 654}, {256, 370}});
    CHECK(window_histogram(build("I_pos512_mix64_g128")) == Hist{{64, 566}, {128, 88}, {512, 370}});
    CHECK(window_histogram(build("J_pos16_mix64_g64")) == Hist{{16, 370}, {64, 654}});
    CHECK(window_histogram(build("J_pos16_mix64_g256")) == Hist{{16, 370}, {64, 566}, {256, 88}});
    CHECK(window_histogram(build("K_uniform128_aware")) == Hist{{128, 1024}});
    // per type, the override reached every head of that type
    Visibility j = build("J_pos64_mix64_g128");
    for (const auto& h : f.heads) {
      int64_t w = h.type == "gathering" ? 128 : 64;
      CHECK(j.at(h.layer, h.head).window == w);
      CHECK(j.at(h.layer, h.head).sink == 4);
    }
    // The published figures of the original's ablation report (Pythia-2.8b, rounded to 0.1).
    const std::map<std::string, double> published = {
        {"K_uniform64_aware", 68.0},   {"K_uniform128_aware", 132.0}, {"G_conf0.7_base64", 67.2},
        {"G_conf0.6_base64", 66.1},    {"J_pos64_mix64_g128", 73.5},  {"G_conf0.8_base128", 131.9},
        {"G_conf0.6_base128", 128.3},  {"G_conf0.55_base128", 120.6}, {"I_pos256_mix128_g128", 178.2},
        {"I_pos512_mix64_g128", 235.4}, {"I_pos256_mix64_g128", 142.9}};
    for (const auto& [name, want] : published) {
      double got = nominal_context(build(name), 1000);
      CHECK_MESSAGE(std::abs(got - want) <= 0.05 + 1e-9, name << ": nominal " << got << " vs published " << want);
    }
    // confidence: only 34 positional heads reach 0.6; no gathering head does (max 0.59)
    Hist g = window_histogram(build("G_conf0.6_base128"));
    CHECK(g == Hist{{16, 34}, {128, 990}});
  }
}
