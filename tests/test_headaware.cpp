// headaware: policy builders (semantics and defaults of the Python original, type alias
// lookup), the ablation TOML (seed set and bad configs), the visibility rule against brute
// force inside the blocked attention, and the runner's resume logic on the bundled model.
#include <unistd.h>
#include <doctest/doctest.h>

#include <c10/core/InferenceMode.h>

#include <filesystem>
#include <fstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "eval/parallel_eval.h"
#include "headaware/ablation_config.h"
#include "headaware/ablation_runner.h"
#include "headaware/policy_builders.h"
#include "model/model.h"
#include "model/parallel_attention.h"
#include "model/tokenizer.h"
#include "tests/support.h"

using namespace headscope;

namespace {

struct H {
  std::string type;
  double conf;
  int64_t rec;
};

// A hand-made classification record, heads listed layer-major.
ClassificationFile make_file(int64_t layers, int64_t heads, const std::vector<H>& hs) {
  REQUIRE(hs.size() == size_t(layers * heads));
  ClassificationFile f;
  f.num_layers = layers;
  f.num_heads = heads;
  for (int64_t i = 0; i < layers * heads; ++i) {
    HeadClassification c;
    c.layer = i / heads;
    c.head = i % heads;
    c.type = hs[i].type;
    c.confidence = hs[i].conf;
    c.recommended_window = hs[i].rec;
    f.heads.push_back(c);
  }
  return f;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Every Error must be one line.
void check_error(const std::function<void()>& fn, const std::string& needle) {
  std::string e = error_of(fn);
  CHECK_MESSAGE(!e.empty(), "expected an Error containing '" << needle << "'");
  CHECK_MESSAGE(e.find(needle) != std::string::npos, "error '" << e << "' lacks '" << needle << "'");
  CHECK(e.find('\n') == std::string::npos);
}

std::string tmp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("headscope_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

}  // namespace

TEST_SUITE("headaware") {
  TEST_CASE("alias lookup: exact first, then legacy alias") {
    WindowByType t = {{"positional", 16}, {"mixed", 64}, {"sink_mixed", 5}};
    CHECK(lookup_window(t, "positional").value() == 16);
    CHECK(lookup_window(t, "sink_positional").value() == 16);
    CHECK(lookup_window(t, "true_positional").value() == 16);
    CHECK(lookup_window(t, "sink_mixed").value() == 5);  // exact wins over the alias
    CHECK(lookup_window(t, "mixed").value() == 64);
    CHECK_FALSE(lookup_window(t, "gathering").has_value());
    CHECK_FALSE(lookup_window(t, "dead").has_value());
    CHECK(legacy_alias("gathering").empty());
  }

  TEST_CASE("from_classifications: override, then recommended_window, then defaults, then 64") {
    // one layer, 9 heads
    ClassificationFile f = make_file(1, 9, {{"positional", 0.9, -1},
                                            {"sink_positional", 0.9, -1},
                                            {"true_positional", 0.9, -1},
                                            {"mixed", 0.5, -1},
                                            {"sink_mixed", 0.5, -1},
                                            {"gathering", 0.3, -1},
                                            {"dead", 0.9, -1},
                                            {"something_else", 0.9, -1},
                                            {"mixed", 0.5, 32}});
    Visibility d = from_classifications_policy(f, {});
    std::vector<int64_t> want = {8, 8, 8, 64, 24, -1, 0, 64, 32};
    for (int64_t h = 0; h < 9; ++h) {
      CHECK_MESSAGE(d.at(0, h).window == want[h], "head " << h);
      CHECK(d.at(0, h).sink == 4);  // default sink
    }
    // Override by legacy names reaches the refined types through the alias and beats the
    // recommended window; unlisted types keep recommended/defaults.
    FromClassificationsParams p;
    p.window_override = {{"positional", 100}, {"mixed", 50}, {"gathering", 128}};
    p.sink = 2;
    Visibility o = from_classifications_policy(f, p);
    want = {100, 100, 100, 50, 50, 128, 0, 64, 50};
    for (int64_t h = 0; h < 9; ++h) {
      CHECK_MESSAGE(o.at(0, h).window == want[h], "head " << h);
      CHECK(o.at(0, h).sink == 2);
    }
    // An exact refined name wins over the alias.
    p.window_override = {{"positional", 100}, {"sink_positional", 7}};
    Visibility e = from_classifications_policy(f, p);
    CHECK(e.at(0, 0).window == 100);
    CHECK(e.at(0, 1).window == 7);
    CHECK(e.at(0, 2).window == 100);
    CHECK(e.at(0, 8).window == 32);  // mixed head with recommended window 32, no override
    // a head's recommended_window is ignored when <= 0
    ClassificationFile z = make_file(1, 1, {{"mixed", 0.5, 0}});
    CHECK(from_classifications_policy(z, {}).at(0, 0).window == 64);
  }

  TEST_CASE("confidence: threshold >= , high-confidence windows by type, base otherwise") {
    ClassificationFile f = make_file(2, 4, {{"positional", 0.7, 8},
                                            {"positional", 0.59, 8},
                                            {"positional", 0.6, 8},
                                            {"gathering", 0.9, -1},
                                            {"sink_mixed", 0.8, -1},
                                            {"dead", 0.95, -1},
                                            {"true_positional", 0.65, 8},
                                            {"mixed", 0.5, -1}});
    Visibility v = confidence_policy(f, {});  // defaults 0.6, 128, {16, 64, 512}, sink 4
    std::vector<int64_t> want = {16, 128, 16, 512, 64, 128, 16, 128};
    for (int64_t i = 0; i < 8; ++i) {
      CHECK_MESSAGE(v.at(i / 4, i % 4).window == want[i], "head " << i);
      CHECK(v.at(i / 4, i % 4).sink == 4);
    }
    // A missing confidence counts as 0.5: HeadClassification's default, and NaN is treated so.
    HeadClassification missing;
    CHECK(missing.confidence == 0.5);
    ClassificationFile m = make_file(1, 2, {{"positional", std::nan(""), -1}, {"positional", 0.5, -1}});
    m.heads[1].confidence = HeadClassification().confidence;
    ConfidenceParams p;
    p.threshold = 0.5;
    p.base_window = 64;
    p.high_conf_windows = {{"positional", 8}};
    Visibility a = confidence_policy(m, p);
    CHECK(a.at(0, 0).window == 8);
    CHECK(a.at(0, 1).window == 8);
    p.threshold = 0.55;
    Visibility b = confidence_policy(m, p);
    CHECK(b.at(0, 0).window == 64);
    CHECK(b.at(0, 1).window == 64);
  }

  TEST_CASE("inverse: confident gathering heads get gathering_window") {
    ClassificationFile f = make_file(1, 4, {{"gathering", 0.4, -1},
                                            {"gathering", 0.39, -1},
                                            {"positional", 1.0, 8},
                                            {"mixed", 0.5, -1}});
    Visibility v = inverse_policy(f, {});  // 64, 256, 0.4, sink 4
    CHECK(v.at(0, 0).window == 256);
    CHECK(v.at(0, 1).window == 64);
    CHECK(v.at(0, 2).window == 64);
    CHECK(v.at(0, 3).window == 64);
    CHECK(v.at(0, 0).sink == 4);
  }

  TEST_CASE("uniform, nominal context and invalid parameters") {
    Visibility u = uniform_policy(2, 3, {4, 124});
    CHECK(u.at(1, 2).sink == 4);
    CHECK(u.at(1, 2).window == 124);
    CHECK(nominal_context(u, 1000) == doctest::Approx(128.0));
    CHECK(uniform_policy(1, 1, {}).at(0, 0).window == 508);  // the original's default
    // full heads count as the text length (the original: 1024), dead heads as sink + 0
    ClassificationFile f = make_file(1, 4, {{"gathering", 0.3, -1},
                                            {"dead", 0.9, -1},
                                            {"positional", 0.9, -1},
                                            {"mixed", 0.5, -1}});
    Visibility v = from_classifications_policy(f, {});
    CHECK(nominal_context(v, 500) == doctest::Approx((500.0 + 4 + 12 + 68) / 4));
    CHECK(nominal_context(v, 1024) == doctest::Approx((1024.0 + 4 + 12 + 68) / 4));

    check_error([] { uniform_policy(1, 1, {4, -2}); }, "window");
    check_error([] { uniform_policy(1, 1, {-1, 8}); }, "sink");
    ConfidenceParams cp;
    cp.threshold = 1.5;
    check_error([&] { confidence_policy(f, cp); }, "threshold");
    FromClassificationsParams fp;
    fp.window_override = {{"posicional", 8}};
    check_error([&] { from_classifications_policy(f, fp); }, "unknown head type 'posicional'");
    fp.window_override = {{"mixed", -5}};
    check_error([&] { from_classifications_policy(f, fp); }, "window_override.mixed");
  }

  TEST_CASE("configs/ablation.toml declares the seeds' 29 configurations") {
    AblationPlan plan = load_ablation_plan(test::repo("configs/ablation.toml"));
    std::vector<std::string> names;
    for (const auto& c : plan.configs) names.push_back(c.name);
    std::vector<std::string> want = {
        "A_window_512", "A_window_256", "A_window_128", "A_window_64",
        "B_streaming_512", "B_streaming_256", "B_streaming_128", "B_streaming_64",
        "G_conf0.3_base128", "G_conf0.4_base128", "G_conf0.5_base128", "G_conf0.55_base128",
        "G_conf0.6_base128", "G_conf0.65_base128", "G_conf0.7_base128", "G_conf0.8_base128",
        "G_conf0.5_base64", "G_conf0.6_base64", "G_conf0.7_base64",
        "I_pos128_mix64_g128", "I_pos256_mix64_g128", "I_pos512_mix64_g128", "I_pos256_mix128_g128",
        "J_pos16_mix64_g64", "J_pos16_mix64_g128", "J_pos16_mix64_g256", "J_pos64_mix64_g128",
        "K_uniform64_aware", "K_uniform128_aware"};
    CHECK(names == want);
    CHECK(plan.reference_group == "B");
    REQUIRE(plan.groups.size() == 6);
    auto get = [&](const std::string& n) -> const AblationConfig& {
      for (const auto& c : plan.configs)
        if (c.name == n) return c;
      FAIL("no config " << n);
      return plan.configs[0];
    };
    for (int tot : {512, 256, 128, 64}) {
      const auto& a = get("A_window_" + std::to_string(tot));
      CHECK(a.builder == "uniform");
      CHECK(a.get<UniformParams>().sink == 0);
      CHECK(a.get<UniformParams>().window == tot);
      const auto& b = get("B_streaming_" + std::to_string(tot));
      CHECK(b.get<UniformParams>().sink == 4);
      CHECK(b.get<UniformParams>().window == tot - 4);
      CHECK(b.group == "B");
    }
    const auto& g = get("G_conf0.55_base128");
    CHECK(g.builder == "confidence");
    CHECK(g.get<ConfidenceParams>().threshold == 0.55);
    CHECK(g.get<ConfidenceParams>().base_window == 128);
    CHECK(g.get<ConfidenceParams>().high_conf_windows == WindowByType{{"positional", 16}, {"mixed", 64}, {"gathering", 256}});
    const auto& g64 = get("G_conf0.7_base64");
    CHECK(g64.get<ConfidenceParams>().threshold == 0.7);
    CHECK(g64.get<ConfidenceParams>().base_window == 64);
    CHECK(g64.get<ConfidenceParams>().high_conf_windows == WindowByType{{"positional", 8}, {"mixed", 64}, {"gathering", 128}});
    const auto& i = get("I_pos256_mix128_g128");
    CHECK(i.builder == "from_classifications");
    CHECK(i.get<FromClassificationsParams>().sink == 4);
    CHECK(i.get<FromClassificationsParams>().window_override == WindowByType{{"positional", 256}, {"mixed", 128}, {"gathering", 128}});
    const auto& j = get("J_pos16_mix64_g256");
    CHECK(j.get<FromClassificationsParams>().window_override == WindowByType{{"positional", 16}, {"mixed", 64}, {"gathering", 256}});
    const auto& k = get("K_uniform64_aware");
    CHECK(k.builder == "from_classifications");
    CHECK(k.get<FromClassificationsParams>().window_override == WindowByType{{"positional", 64}, {"mixed", 64}, {"gathering", 64}});
    // params as written to the results file
    CHECK(get("B_streaming_128").params() == nlohmann::json{{"builder", "uniform"}, {"sink", 4}, {"window", 124}});
    CHECK(g.params()["high_conf_windows"]["gathering"] == 256);
    CHECK(g.params()["threshold"] == 0.55);

    AblationPlan ab = select_groups(plan, split_group_list(" B, A"));
    CHECK(ab.configs.size() == 8);
    CHECK(ab.configs[0].name == "A_window_512");  // plan order kept
    CHECK_FALSE(ab.needs_classifications());
    CHECK(plan.needs_classifications());
    check_error([&] { select_groups(plan, {"Z"}); }, "no group 'Z'");
  }

  TEST_CASE("an unknown builder is an error everywhere, never another builder") {
    AblationConfig c;
    c.name = "x";
    c.builder = "nonesuch";
    check_error([&] { c.params(); }, "unknown builder 'nonesuch'");
    check_error([&] { c.sink(); }, "unknown builder 'nonesuch'");
    check_error([&] { c.needs_classifications(); }, "unknown builder 'nonesuch'");
    check_error([&] { c.build(2, 2, nullptr); }, "unknown builder 'nonesuch'");
  }

  TEST_CASE("builder registry: typed parameters, defaults valid, params() lists them all") {
    CHECK(known_builders() ==
          std::vector<std::string>{"uniform", "from_classifications", "confidence", "inverse", "policy_file"});
    for (const BuilderInfo& b : builders()) {
      CAPTURE(b.name);
      AblationConfig c;
      c.builder = b.name;
      c.parameters = b.defaults;
      const nlohmann::json j = c.params();
      CHECK(j["builder"] == b.name);
      CHECK(j.size() == b.params.size() + 1);
      for (const auto& key : b.param_keys()) CHECK(j.contains(key));
      if (b.name != "policy_file") CHECK_NOTHROW(b.validate(b.defaults));  // policy_file needs a file
      CHECK(c.needs_classifications() == (b.name != "uniform" && b.name != "policy_file"));
    }
    // a parameter is set in its own builder's struct only
    AblationConfig inv;
    inv.builder = "inverse";
    inv.parameters = builder_info("inverse").defaults;
    builder_info("inverse").param("base_window")->set(inv.parameters, int64_t(32));
    CHECK(inv.get<InverseParams>().base_window == 32);
    CHECK(inv.sink() == kDefaultSink);
    CHECK(builder_info("uniform").param("threshold") == nullptr);
    check_error([] { builder_info("magic"); }, "unknown builder 'magic'");
  }

  TEST_CASE("user groups and bad configurations") {
    const std::string ok = R"(
[[group]]
id = "X"
builder = "inverse"
configs = [ { name = "X1" }, { name = "X2", gathering_window = -1, base_window = 32 } ]
[[group]]
id = "Y"
builder = "uniform"
window = 16
configs = [ { name = "Y1" }, { name = "Y2", builder = "confidence", threshold = 1 } ]
)";
    AblationPlan p = parse_ablation_plan(ok, "user.toml");
    REQUIRE(p.configs.size() == 4);
    CHECK(p.configs[0].get<InverseParams>().base_window == 64);  // builder defaults
    CHECK(p.configs[0].get<InverseParams>().gathering_window == 256);
    CHECK(p.configs[0].get<InverseParams>().gathering_confidence_threshold == 0.4);
    CHECK(p.configs[1].get<InverseParams>().gathering_window == -1);
    CHECK(p.configs[1].get<InverseParams>().base_window == 32);
    CHECK(p.configs[2].get<UniformParams>().sink == 4);
    CHECK(p.configs[2].get<UniformParams>().window == 16);
    CHECK(p.configs[3].builder == "confidence");
    CHECK(p.configs[3].get<ConfidenceParams>().threshold == 1.0);
    CHECK(p.configs[3].get<ConfidenceParams>().base_window == 128);

    auto bad = [](const std::string& text, const std::string& needle) {
      check_error([&] { parse_ablation_plan(text, "bad.toml"); }, needle);
    };
    const std::string g = "[[group]]\nid = \"Q\"\n";
    bad("[[group]\nid = 1", "bad.toml:1");                       // malformed TOML
    bad(g + "builder = \"magic\"\nconfigs = [{name=\"a\"}]", "unknown builder 'magic'");
    bad(g + "builder = \"uniform\"\nconfigs = [{name=\"a\", window = -2}]", "window must be -1");
    bad(g + "builder = \"uniform\"\nconfigs = [{name=\"a\", sink = -1}]", "sink must be >= 0");
    bad(g + "builder = \"confidence\"\nconfigs = [{name=\"a\", threshold = 1.5}]", "threshold must lie in [0, 1]");
    bad(g + "builder = \"confidence\"\nconfigs = [{name=\"a\", threshold = -0.1}]", "threshold");
    bad(g + "builder = \"inverse\"\nconfigs = [{name=\"a\", gathering_confidence_threshold = 2}]", "gathering_confidence_threshold");
    bad(g + "builder = \"from_classifications\"\nconfigs = [{name=\"a\", window_override = {posicional = 8}}]", "unknown head type 'posicional'");
    bad(g + "builder = \"from_classifications\"\nconfigs = [{name=\"a\", window_override = {mixed = -3}}]", "window_override.mixed");
    bad(g + "builder = \"confidence\"\nconfigs = [{name=\"a\", treshold = 0.5}]", "'treshold' is not a parameter");
    bad(g + "builder = \"uniform\"\nconfigs = [{name=\"a\", window = 1.5}]", "window must be an integer");
    bad(g + "builder = \"uniform\"\nconfigs = [{name=\"a\"}, {name=\"a\"}]", "duplicate configuration name");
    bad(g + "builder = \"uniform\"\nconfigs = [{window=8}]", "without 'name'");
    bad(g + "configs = [{name=\"a\"}]", "no builder");
    bad(g + "builder = \"uniform\"\nconfigs = []", "non-empty");
    bad("reference_group = \"B\"\n", "no [[group]]");
    bad("colour = 1\n" + g + "builder = \"uniform\"\nconfigs = [{name=\"a\"}]", "unknown top-level key 'colour'");
    bad(g + "builder = \"uniform\"\nconfigs = [{name=\"a\"}]\n" + g + "builder = \"uniform\"\nconfigs = [{name=\"b\"}]", "duplicate group id");
    check_error([] { load_ablation_plan("/nonexistent/ablation.toml"); }, "/nonexistent/ablation.toml");
  }

  TEST_CASE("visibility rule: counts and blocked attention against brute force") {
    c10::InferenceMode guard;
    // measured context and visible_count against counting sees() over all pairs
    const int64_t T = 37;
    std::vector<HeadWindow> hws = {{0, -1}, {4, 0}, {4, 5}, {0, 5}, {3, 1}, {2, 100}, {40, 6}};
    Visibility v(1, int64_t(hws.size()));
    for (size_t h = 0; h < hws.size(); ++h) v.at(0, int64_t(h)) = hws[h];
    double total = 0;
    for (const auto& hw : hws)
      for (int64_t q = 0; q < T; ++q) {
        int64_t n = 0;
        for (int64_t k = 0; k < T; ++k) {
          bool want = k <= q && (hw.window < 0 || (hw.window == 0 ? k == q : (k < hw.sink || q - k < hw.window)));
          CHECK(hw.sees(q, k) == want);
          n += want;
        }
        CHECK(hw.visible_count(q) == n);
        total += double(n);
      }
    CHECK(v.measured_context(T) == doctest::Approx(total / double(hws.size() * T)));

    // The blocked attention of one layer with mixed per-head windows equals masked attention
    // over the full key range with a brute-force mask, for several query block sizes.
    Model m = Model::load(test::bundled_model());
    const auto& c = m.config();
    Visibility lv(c.num_layers, c.num_heads);  // 14m: 4 heads
    lv.at(1, 0) = {0, -1};
    lv.at(1, 1) = {0, 0};
    lv.at(1, 2) = {4, 6};
    lv.at(1, 3) = {0, 9};
    at::manual_seed(0);
    at::Tensor x = at::randn({T, c.hidden_size});
    QKV qkv = m.qkv(1, x);
    at::Tensor pos = at::arange(T, at::TensorOptions().dtype(at::kLong));
    at::Tensor q = m.rotate(qkv.q, pos), k = m.rotate(qkv.k, pos);
    at::Tensor mask = at::zeros({c.num_heads, T, T}, at::TensorOptions().dtype(at::kBool));
    auto acc = mask.accessor<bool, 3>();
    for (int64_t h = 0; h < c.num_heads; ++h)
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j) acc[h][i][j] = lv.at(1, h).sees(i, j);
    at::Tensor ref = masked_attention(q, k, qkv.v, mask);
    for (int64_t block : {1, 5, 16, 64}) {
      ParallelAttentionOptions po;
      po.visibility = &lv;
      po.query_block = block;
      QKV in = qkv;
      at::Tensor out = parallel_attention(m, po)(1, in);
      double err = (out - ref).abs().max().item<double>();
      CHECK_MESSAGE(err < 1e-5, "query_block " << block << ": max abs err " << err);
    }
    // dead head: its output is its own value vector
    CHECK((ref[1] - qkv.v[1]).abs().max().item<double>() < 1e-6);
  }

  TEST_CASE("K on a legacy-typed file equals uniform(4, w)") {
    std::vector<H> hs;
    for (int i = 0; i < 24; ++i) hs.push_back({i % 3 == 0 ? "positional" : i % 3 == 1 ? "mixed" : "gathering", 0.1 * (i % 10), i % 3 == 0 ? 8 : -1});
    ClassificationFile f = make_file(6, 4, hs);
    AblationPlan plan = select_groups(load_ablation_plan(test::repo("configs/ablation.toml")), {"K"});
    Visibility k = plan.configs[0].build(6, 4, &f);
    for (int64_t l = 0; l < 6; ++l)
      for (int64_t h = 0; h < 4; ++h) {
        CHECK(k.at(l, h).sink == 4);
        CHECK(k.at(l, h).window == 64);
      }
    check_error([&] { plan.configs[0].build(6, 8, &f); }, "6 layers x 4 heads");
    check_error([&] { plan.configs[0].build(6, 4, nullptr); }, "--classifications");
  }

  TEST_CASE("key comparisons pick the reference run of nearest measured context") {
    AblationFile f;
    auto rec = [](std::string n, std::string g, double ppl, double ctx, std::string b) {
      AblationRecord r;
      r.name = n;
      r.group = g;
      r.perplexity = ppl;
      r.measured_context = ctx;
      r.params = {{"builder", b}};
      return r;
    };
    f.results = {rec("B_64", "B", 10.0, 60.0, "uniform"), rec("B_128", "B", 9.0, 120.0, "uniform"),
                 rec("A_64", "A", 30.0, 62.0, "uniform"), rec("G1", "G", 9.5, 91.0, "confidence"),
                 rec("G2", "G", 9.9, 89.0, "confidence"), rec("K1", "K", 8.1, 130.0, "from_classifications")};
    auto cs = key_comparisons(f, "B");
    REQUIRE(cs.size() == 3);  // A is uniform: not head-aware
    CHECK(cs[0].name == "G1");
    CHECK(cs[0].reference == "B_128");  // |91-120| = 29 < |91-60| = 31
    CHECK(cs[1].reference == "B_64");   // |89-60| = 29 < 31
    CHECK(cs[2].reference == "B_128");
    CHECK(cs[2].delta_ppl() == doctest::Approx(-0.9));
    CHECK(cs[2].delta_pct() == doctest::Approx(-10.0));
    CHECK(key_comparisons(f, "Z").empty());
    // a diverged result (NaN, written as null) survives the round trip through the file
    f.id = {"m", "t", "", 10, "", "", ""};
    f.results[3].perplexity = std::nan("");
    AblationFile back = AblationFile::from_json(nlohmann::json::parse(f.to_json().dump()), "mem");
    CHECK(std::isnan(back.results[3].perplexity));
    CHECK(back.results[5].perplexity == 8.1);
    std::string s = format_comparisons(f, "B");
    CHECK(s.find("best head-aware: K1") != std::string::npos);
  }

  TEST_CASE("runner: results file, resume after interruption, changed parameters") {
    Model m = Model::load(test::bundled_model());
    // A short text, tokenized with the bundled model's tokenizer: 40 tokens.
    std::vector<int64_t> ids = Tokenizer::load(test::bundled_model()).encode(
        "It was a bright cold day in April, and the clocks were striking thirteen. The old man "
        "walked slowly down the lane towards the church, where the bells had long been silent, "
        "and the rooks were gathering in the elms.");
    REQUIRE(ids.size() >= 40);
    ids.resize(40);
    const std::string out = tmp_path("ablation.json");
    std::filesystem::remove(out);
    const std::string toml = R"(
[[group]]
id = "A"
builder = "uniform"
sink = 0
configs = [ { name = "A_8", window = 8 }, { name = "A_16", window = 16 } ]
[[group]]
id = "B"
builder = "uniform"
sink = 4
configs = [ { name = "B_8", window = 4 }, { name = "B_16", window = 12 } ]
[[group]]
id = "H"
builder = "from_classifications"
configs = [ { name = "H_pos4_mix16", window_override = { positional = 4, mixed = 16, gathering = -1 } } ]
)";
    AblationPlan full = parse_ablation_plan(toml, "runner.toml");
    std::vector<H> hs;
    for (int i = 0; i < 24; ++i) hs.push_back({i % 4 == 0 ? "gathering" : i % 2 ? "mixed" : "positional", 0.5, -1});
    ClassificationFile cls = make_file(6, 4, hs);
    AblationIdentity id{test::bundled_model(), "short-text", "hand-made", int64_t(ids.size()),
                        ids_digest(ids), "", ""};
    CHECK(ids_digest(ids).size() == 64);
    CHECK(ids_digest({1, 2}) != ids_digest({2, 1}));
    AblationRunOptions opt;
    opt.out_path = out;
    opt.progress = false;

    // 1) "interrupted" run: only group A
    AblationFile f1 = open_ablation_file(out, id);
    AblationRunStats s1 = run_ablation(m, ids, select_groups(full, {"A"}), &cls, f1, opt);
    CHECK(s1.evaluated == 2);
    CHECK(s1.skipped == 0);
    nlohmann::json j1 = nlohmann::json::parse(read_file(out));
    CHECK(j1["schema"] == "headscope.ablation/1");
    CHECK(j1["tokens"] == 40);
    CHECK(j1["token_ids_sha256"] == ids_digest(ids));
    CHECK(j1["results"].size() == 2);
    CHECK(j1["dense"]["perplexity"].get<double>() > 1.0);
    CHECK(j1["results"][0]["params"] == nlohmann::json{{"builder", "uniform"}, {"sink", 0}, {"window", 8}});
    for (const char* key : {"name", "group", "perplexity", "accuracy", "nominal_context",
                            "measured_context", "tokens_per_s", "wall_s", "params"})
      CHECK_MESSAGE(j1["results"][0].contains(key), key);

    // 2) resume the full plan: only the three missing configurations run; stored ones unchanged
    AblationFile f2 = open_ablation_file(out, id);
    CHECK(f2.results.size() == 2);
    AblationRunStats s2 = run_ablation(m, ids, full, &cls, f2, opt);
    CHECK(s2.evaluated == 3);
    CHECK(s2.skipped == 2);
    nlohmann::json j2 = nlohmann::json::parse(read_file(out));
    REQUIRE(j2["results"].size() == 5);
    CHECK(j2["results"][0] == j1["results"][0]);  // not re-run (same wall time and all)
    CHECK(j2["dense"] == j1["dense"]);
    // the stored values are those of a direct evaluation
    AblationFile back = AblationFile::load(out);
    AblationRecord direct = evaluate_config(m, ids, full.configs[2], &cls);
    const AblationRecord& stored = back.results[back.find("B_8")];
    CHECK(stored.perplexity == doctest::Approx(direct.perplexity).epsilon(1e-9));
    CHECK(stored.measured_context == doctest::Approx(direct.measured_context));
    CHECK(stored.nominal_context == 8.0);
    // H: gathering heads are full -> nominal counts them as the text length (40)
    const AblationRecord& h = back.results[back.find("H_pos4_mix16")];
    CHECK(h.nominal_context == doctest::Approx((6 * 40.0 + 6 * 8 + 12 * 20) / 24));
    CHECK(h.head_aware());

    // 3) nothing left to do
    AblationFile f3 = open_ablation_file(out, id);
    AblationRunStats s3 = run_ablation(m, ids, full, &cls, f3, opt);
    CHECK(s3.evaluated == 0);
    CHECK(s3.skipped == 5);

    // 4) a configuration whose parameters changed is re-run and replaced, not duplicated
    AblationPlan changed = parse_ablation_plan(
        "[[group]]\nid = \"A\"\nbuilder = \"uniform\"\nsink = 0\nconfigs = [ { name = \"A_8\", window = 9 } ]\n",
        "changed.toml");
    AblationFile f4 = open_ablation_file(out, id);
    AblationRunStats s4 = run_ablation(m, ids, changed, &cls, f4, opt);
    CHECK(s4.evaluated == 1);
    AblationFile after = AblationFile::load(out);
    CHECK(after.results.size() == 5);
    CHECK(after.results[after.find("A_8")].params["window"] == 9);

    // 5) another model/text/token count in the same file is refused
    AblationIdentity other = id;
    other.tokens = 41;
    check_error([&] { open_ablation_file(out, other); }, "token count 40");
    // the text is identified by its token ids: another path with the same ids resumes, and
    // keeps the path first recorded; without ids (older files) the path decides
    other = id;
    other.text = "another-text";
    CHECK(open_ablation_file(out, other).id.text == "short-text");
    other.token_ids_sha256.clear();
    check_error([&] { open_ablation_file(out, other); }, "choose another --out");
    // the model is identified by content where both sides record it
    other = id;
    other.model_identity = "aaaa";
    CHECK(open_ablation_file(out, other).id.model == id.model);  // the file has no identity yet
    other.model = "/elsewhere/copy";
    check_error([&] { open_ablation_file(out, other); }, "holds results for model");
    other = id;
    other.token_ids_sha256 = ids_digest({1, 2, 3});
    check_error([&] { open_ablation_file(out, other); }, "token ids (sha256)");
    other = id;
    other.classifications = "other.json";
    check_error([&] { open_ablation_file(out, other); }, "classification file");
    // and a file that is not ours
    write_file_atomic(tmp_path("other.json"), "{\"schema\": \"something/1\"}");
    check_error([&] { open_ablation_file(tmp_path("other.json"), id); }, "not a headscope ablation");

    // summary lists every group, sorted by measured context
    std::string s = format_summary(after, full);
    CHECK(s.find("--- A") != std::string::npos);
    CHECK(s.find("A_16") > s.find("A_8"));
    CHECK(format_comparisons(after, "B").find("H_pos4_mix16") != std::string::npos);
    headscope::test::remove_tree(std::filesystem::path(out).parent_path());
  }
}
