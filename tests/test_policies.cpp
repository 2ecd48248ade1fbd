// Policies end to end on the bundled 14m model: every configuration of configs/ablation.toml
// exported as a policy file and run on the real KV cache agrees with the mask engine per token
// (|dNLL| < 1e-4) and in measured context; eval --policy, the policy_file ablation builder,
// allocate (budget kept, deterministic, its NLL re-measured independently), fastgen, and the
// bad inputs (another model's policy, a budget below the cheapest candidate, an empty grid).
#include <doctest/doctest.h>

#include <c10/core/InferenceMode.h>

#include <cmath>
#include <fstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/text.h"
#include "eval/parallel_eval.h"
#include "eval/policy_eval.h"
#include "formats/policy_file.h"
#include "headaware/ablation_config.h"
#include "headaware/allocator.h"
#include "model/tokenizer.h"
#include "tests/cli_runner.h"
#include "tests/support.h"

using namespace headscope;

namespace {

std::string tmp(const std::string& name) { return test::temp_path("policies", name); }
const std::string kText = test::repo("data/pg19-10146.txt");
const std::string kCls = test::repo("results/main-job/head_classifications.json");

std::vector<int64_t> text_ids(int64_t n) {
  std::vector<int64_t> ids =
      Tokenizer::load(test::bundled_model()).encode(load_text(kText, Newlines::LF));
  ids.resize(size_t(n));
  return ids;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

bool one_line_error(const test::Run& r) {
  return (r.code == 1 || r.code == 2) && r.out.rfind("headscope: error: ", 0) == 0 &&
         r.out.find('\n') == r.out.size() - 1;
}

}  // namespace

TEST_SUITE("policies") {
  TEST_CASE("every exported ablation policy: real cache = mask engine per token") {
    c10::InferenceMode guard;
    const std::string model = test::bundled_model();
    AblationPlan plan = load_ablation_plan(test::repo("configs/ablation.toml"));
    REQUIRE(plan.configs.size() >= 29);
    Model m = Model::load(model);
    std::vector<int64_t> ids = text_ids(100);  // 29 configurations: keep the suite short
    const int64_t N = int64_t(ids.size());
    for (const auto& cfg : plan.configs) {
      const std::string out = tmp("export_" + cfg.name + ".json");
      test::Run r = test::run("ablate --model " + model + " --config " +
                              test::repo("configs/ablation.toml") + " --classifications " + kCls +
                              " --export-policy " + cfg.name + " --policy-out " + out);
      REQUIRE_MESSAGE(r.code == 0, r.out);
      PolicyFile pf = PolicyFile::load(out);
      CHECK(pf.name == cfg.name);
      CHECK(pf.check_model(PolicyModel::from_model_dir(model), out).empty());
      ParallelEvalOptions po;
      po.visibility = &pf.policy;
      po.query_block = 64;
      EvalResult par = evaluate_parallel(m, ids, po);
      EvalResult dec = evaluate_policy_decode(m, ids, pf.policy);
      const double diff = max_abs_diff(dec.nll, par.nll);
      CHECK_MESSAGE(diff < 1e-4, cfg.name << ": max |dNLL| " << diff);
      CHECK(dec.accuracy == par.accuracy);
      // keys per query counted on the cache = the policy's mask-engine figure
      CHECK_MESSAGE(dec.extra["measured_context"].get<double>() ==
                        doctest::Approx(pf.policy.measured_context(N - 1)).epsilon(1e-12),
                    cfg.name);
    }
  }

  TEST_CASE("eval --policy on the real cache; the policy_file builder in ablate") {
    const std::string model = test::bundled_model();
    const std::string pol = tmp("J.json");
    test::Run r = test::run("ablate --model " + model + " --classifications " + kCls +
                            " --export-policy J_pos16_mix64_g256 --policy-out " + pol);
    REQUIRE_MESSAGE(r.code == 0, r.out);
    const std::string ej = tmp("eval.json");
    r = test::run("eval --model " + model + " --text " + kText + " --max-tokens 120 --policy " +
                  pol + " --json " + ej);
    REQUIRE_MESSAGE(r.code == 0, r.out);
    CHECK(r.out.find("keys per query measured on the cache") != std::string::npos);
    nlohmann::json j = nlohmann::json::parse(read_file(ej));
    PolicyFile pf = PolicyFile::load(pol);
    CHECK(j["policy_hash"] == pf.policy_hash());
    CHECK(j["measured_context"].get<double>() == doctest::Approx(pf.policy.measured_context(119)));
    CHECK(j["decode"] == true);
    CHECK(j["cache_bytes"].get<int64_t>() > 0);

    // ablate: the same policy through the policy_file builder gives the builder's own result
    const std::string toml = tmp("pf.toml");
    test::write_file(toml, "[[group]]\nid = \"P\"\nbuilder = \"policy_file\"\nconfigs = [ { name = "
                           "\"from_file\", file = \"J.json\" } ]\n[[group]]\nid = \"J\"\nbuilder = "
                           "\"from_classifications\"\nconfigs = [ { name = \"J_pos16_mix64_g256\", "
                           "window_override = { positional = 16, mixed = 64, gathering = 256 } } ]\n");
    const std::string out = tmp("ablation.json");
    r = test::run("ablate --model " + model + " --text " + kText + " --max-tokens 100 --config " +
                  toml + " --classifications " + kCls + " --no-progress --out " + out);
    REQUIRE_MESSAGE(r.code == 0, r.out);
    nlohmann::json a = nlohmann::json::parse(read_file(out));
    REQUIRE(a["results"].size() == 2);
    const auto& rf = a["results"][0];
    const auto& rj = a["results"][1];
    CHECK(rf["perplexity"].get<double>() == doctest::Approx(rj["perplexity"].get<double>()).epsilon(1e-9));
    CHECK(rf["policy"]["hash"] == pf.policy_hash());
    CHECK(rj["policy"]["hash"] == pf.policy_hash());
    CHECK(rf["policy"]["file"].get<std::string>().find("J.json") != std::string::npos);
    CHECK(rj["policy"]["windows"].size() == 6);
  }

  TEST_CASE("bad input: another model's policy, export errors") {
    const std::string model = test::bundled_model();
    PolicyFile pf;
    pf.model = PolicyModel::from_model_dir(model);
    pf.model.layers = 12;
    pf.policy = Visibility(12, 4, HeadWindow{4, 8});
    pf.save(tmp("other.json"));
    test::Run r = test::run("eval --model " + model + " --text " + kText +
                            " --max-tokens 50 --policy " + tmp("other.json"));
    CHECK_MESSAGE(one_line_error(r), r.out);
    CHECK(r.out.find("was made for GPTNeoXForCausalLM, 12 layers x 4 KV heads") != std::string::npos);
    r = test::run("eval --model " + model + " --text " + kText + " --policy " + tmp("other.json") +
                  " --method streaming_llm");
    CHECK_MESSAGE(one_line_error(r), r.out);
    r = test::run("ablate --model " + model + " --export-policy nope --policy-out " + tmp("x.json"));
    CHECK_MESSAGE(one_line_error(r), r.out);
    CHECK(r.out.find("no configuration 'nope'") != std::string::npos);
    r = test::run("ablate --model " + model + " --export-policy G_conf0.3_base128 --policy-out " +
                  tmp("x.json"));
    CHECK_MESSAGE(one_line_error(r), r.out);
    CHECK(!std::filesystem::exists(tmp("x.json")));
  }

  TEST_CASE("allocate: bad input is a one-line error and writes nothing") {
    const std::string base = "allocate --model " + test::bundled_model() + " --text " + kText +
                             " --max-tokens 64 --out " + tmp("never.json");
    test::Run r = test::run(base + " --budget 0.5");
    CHECK_MESSAGE(one_line_error(r), r.out);
    CHECK(r.out.find("below the cheapest candidate") != std::string::npos);
    r = test::run(base + " --budget 32 --windows ''");
    CHECK_MESSAGE(one_line_error(r), r.out);
    CHECK(r.out.find("empty candidate grid") != std::string::npos);
    r = test::run(base + " --budget 32 --windows 8,x");
    CHECK_MESSAGE(one_line_error(r), r.out);
    r = test::run(base + " --budget 32 --budget-kind tokens");
    CHECK_MESSAGE(one_line_error(r), r.out);
    r = test::run(base);
    CHECK_MESSAGE(one_line_error(r), r.out);  // no budget
    CHECK(!std::filesystem::exists(tmp("never.json")));
  }

  TEST_CASE("allocate: within budget, deterministic, NLL re-measured; fastgen") {
    c10::InferenceMode guard;
    Model m = Model::load(test::bundled_model());
    std::vector<int64_t> ids = text_ids(96);
    AllocatorOptions o;
    o.sinks = {0, 4};
    o.windows = {0, 8, 16, 32, -1};
    o.budget = 20;
    o.refine = 3;
    o.seed = 7;
    Allocation a = allocate(m, ids, o);
    CHECK(a.measured_context <= 20.0 + 1e-9);
    CHECK(a.measured_context == doctest::Approx(a.cost));
    // the reported joint NLL is the mask engine's NLL of the written policy
    ParallelEvalOptions po;
    po.visibility = &a.policy;
    CHECK(evaluate_parallel(m, ids, po).mean_nll == doctest::Approx(a.nll).epsilon(1e-9));
    // the allocation is no worse than the uniform policies that fit the same budget
    for (HeadWindow w : {HeadWindow{4, 16}, HeadWindow{0, 16}, HeadWindow{0, 8}, HeadWindow{4, 8}}) {
      Visibility u(m.config().num_layers, m.config().num_heads, w);
      if (u.measured_context(96) > 20.0) continue;
      po.visibility = &u;
      const double un = evaluate_parallel(m, ids, po).mean_nll;
      MESSAGE("uniform " << w.sink << "+" << w.window << ": NLL " << un << ", allocated " << a.nll);
      CHECK(a.nll <= un + 1e-9);
    }
    Allocation b = allocate(m, ids, o);
    CHECK(PolicyFile::hash(a.policy) == PolicyFile::hash(b.policy));
    // bytes budget: the cache holds at most the budget after the last token
    o.budget_kind = "bytes";
    o.budget = 24 * 12 * kv_bytes_per_entry(m);  // 12 entries per head on average
    o.refine = 0;
    Allocation c = allocate(m, ids, o);
    CHECK(c.cost <= o.budget);
    double bytes = 0;
    for (int64_t l = 0; l < 6; ++l)
      for (int64_t h = 0; h < 4; ++h) {
        int64_t kept = 0;
        for (int64_t p = 0; p < 96; ++p) kept += c.policy.at(l, h).sees(96, p);
        bytes += double(kept) * kv_bytes_per_entry(m);
      }
    CHECK(bytes == doctest::Approx(c.cost));
    // fastgen: recover 1 keeps every head's whole mass (full or a window covering the text);
    // a lower threshold never chooses dearer candidates
    AllocatorOptions f;
    f.method = "fastgen";
    f.windows = {0, 8, 16, 32, -1};
    f.recover = 1.0;
    Allocation f1 = allocate(m, ids, f);
    CHECK(f1.measured_context == doctest::Approx(Visibility::causal(6, 4).measured_context(96)));
    f.recover = 0.8;
    Allocation f8 = allocate(m, ids, f);
    CHECK(f8.measured_context < f1.measured_context);
    for (const auto& row : f8.report["recovered_mass"])
      for (const auto& v : row) CHECK(v.get<double>() >= 0.8);
  }

  TEST_CASE("allocate CLI writes a policy eval --policy runs") {
    const std::string pol = tmp("alloc.json");
    test::Run r = test::run("allocate --model " + test::bundled_model() + " --text " + kText +
                            " --max-tokens 64 --windows 0,8,16,full --budget 16 --refine 1 --out " + pol);
    REQUIRE_MESSAGE(r.code == 0, r.out);
    CHECK(r.out.find("profile") != std::string::npos);
    PolicyFile pf = PolicyFile::load(pol);
    CHECK(pf.context_tokens == 64);
    CHECK(pf.measured_context <= 16.0);
    CHECK(pf.source["method"] == "lagrangian");
    r = test::run("eval --model " + test::bundled_model() + " --text " + kText +
                  " --max-tokens 64 --policy " + pol);
    CHECK_MESSAGE(r.code == 0, r.out);
  }
  TEST_CASE("allocate on a GQA model: one policy per KV head, realised by the real cache") {
    // The bundled TinyStories Llama: 8 query heads over 4 KV heads. A real cache evicts per KV
    // head, so allocate (both methods) must choose one (sink, window) per (layer, KV head).
    c10::InferenceMode guard;
    const std::string model = test::repo("models/llama-tinystories-656k");
    const std::string text = test::repo("data/tinystories-sample.txt");
    Model m = Model::load(model);
    REQUIRE(m.config().gqa());
    std::vector<int64_t> ids = Tokenizer::load(model).encode(load_text(text, Newlines::LF));
    ids.resize(96);
    for (const std::string method : {"lagrangian", "fastgen"}) {
      const std::string pol = tmp("gqa_" + method + ".json");
      test::Run r = test::run("allocate --model " + model + " --text " + text +
                              " --max-tokens 96 --windows 0,8,16,full --method " + method +
                              (method == "fastgen" ? " --recover 0.9" : " --budget 24 --refine 1") +
                              " --out " + pol);
      REQUIRE_MESSAGE(r.code == 0, r.out);
      PolicyFile pf = PolicyFile::load(pol);
      CHECK_MESSAGE(pf.policy.heads() == m.config().num_kv_heads, method);
      CHECK(pf.policy.layers() == m.config().num_layers);
      CHECK(pf.check_model(PolicyModel::from_model_dir(model), pol).empty());
      // the real cache (evicting per KV head) and the mask engine agree per token
      ParallelEvalOptions po;
      po.visibility = &pf.policy;
      EvalResult par = evaluate_parallel(m, ids, po);
      EvalResult dec = evaluate_policy_decode(m, ids, pf.policy);
      CHECK_MESSAGE(max_abs_diff(dec.nll, par.nll) < 1e-4, method);
    }
  }
}
