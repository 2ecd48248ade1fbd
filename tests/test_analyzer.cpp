// Analyzer: classification file I/O (both schemas), classification rules on hand-made
// statistics, per-head statistics on hand-built attention maps, configuration errors.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include <c10/core/InferenceMode.h>

#include <cmath>

#include "analyzer/analysis_config.h"
#include "analyzer/analysis_io.h"
#include "analyzer/analyzer.h"
#include "analyzer/classification_io.h"
#include "analyzer/classifier.h"
#include "analyzer/head_statistics.h"
#include "model/parallel_attention.h"
#include "tests/support.h"
#include "common/atomic_file.h"
#include "common/error.h"

using namespace headscope;

namespace {

std::string temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("headscope_test_analyzer_" + name);
  headscope::test::remove_tree(d);
  std::filesystem::create_directories(d);
  return d.string();
}

std::string legacy_entry(int l, int h, const char* type) {
  return std::string("{\"layer_idx\": ") + std::to_string(l) + ", \"head_idx\": " +
         std::to_string(h) + ", \"head_type\": \"" + type +
         "\", \"confidence\": 0.25, \"can_prune\": false, \"can_limit_window\": true, "
         "\"recommended_window\": 8}";
}

}  // namespace

TEST_SUITE("analyzer") {
  TEST_CASE("classification file round trip (new schema, with stability)") {
    std::vector<HeadClassification> heads;
    for (int l = 0; l < 2; ++l)
      for (int h = 0; h < 3; ++h) {
        HeadClassification c;
        c.layer = l;
        c.head = h;
        c.stability = 0.25 * h;
        heads.push_back(c);
      }
    heads[1].type = "true_positional";
    heads[1].confidence = 0.123456789012345;
    heads[1].can_limit_window = true;
    heads[1].recommended_window = 15;
    heads[1].use_full_cache = false;
    heads[1].strategy = "window_only";
    heads[4].type = "sink_mixed";
    heads[4].keep_sinks = true;
    heads[4].sink_size = 6;
    heads[4].strategy = "sink_window";
    heads[5].type = "dead";
    heads[5].can_prune = true;
    heads[5].strategy = "prune";
    const std::string dir = temp_dir("roundtrip");
    const std::string path = dir + "/head_classifications.json";
    write_classifications(path, heads);
    ClassificationFile f = read_classifications(path);
    CHECK_FALSE(f.legacy_schema);
    REQUIRE(f.num_layers == 2);
    REQUIRE(f.num_heads == 3);
    for (size_t i = 0; i < heads.size(); ++i) {
      const auto& a = heads[i];
      const auto& b = f.at(a.layer, a.head);
      CHECK(b.type == a.type);
      CHECK(b.confidence == a.confidence);  // shortest round-trip double formatting
      CHECK(b.can_prune == a.can_prune);
      CHECK(b.can_limit_window == a.can_limit_window);
      CHECK(b.recommended_window == a.recommended_window);
      CHECK(b.keep_sinks == a.keep_sinks);
      CHECK(b.sink_size == a.sink_size);
      CHECK(b.use_full_cache == a.use_full_cache);
      CHECK(b.strategy == a.strategy);
      CHECK(b.stability == a.stability);
    }
    // The summary counts every type and strategy with percentages.
    auto s = nlohmann::json::parse(read_file(path))["summary"];
    CHECK(s["total_heads"] == 6);
    CHECK(s["type_distribution"]["mixed"] == 3);
    CHECK(s["type_distribution"]["positional"] == 0);
    CHECK(s["type_percentages"]["mixed"].get<double>() == 50.0);
    CHECK(s["prunable_heads"] == 1);
    CHECK(s["limitable_heads"] == 1);
    CHECK(s["compression_strategies"]["window_only"] == 1);
    CHECK(s["sink_heads"] == 1);
    headscope::test::remove_tree(dir);
  }

  TEST_CASE("legacy schema: missing newer fields take the defaults, heads sorted") {
    std::string text = "{\"classifications\": [" + legacy_entry(1, 1, "positional") + "," +
                       legacy_entry(0, 0, "gathering") + "," + legacy_entry(0, 1, "mixed") +
                       "," + legacy_entry(1, 0, "positional") + "]}";
    ClassificationFile f = parse_classifications(text, "legacy.json");
    CHECK(f.legacy_schema);
    CHECK(f.num_layers == 2);
    CHECK(f.num_heads == 2);
    CHECK(f.at(0, 0).type == "gathering");
    CHECK(f.at(1, 1).type == "positional");
    CHECK(f.at(1, 1).can_limit_window);
    CHECK(f.at(1, 1).recommended_window == 8);
    CHECK(f.at(1, 1).keep_sinks == false);
    CHECK(f.at(1, 1).sink_size == 4);
    CHECK(f.at(1, 1).use_full_cache == true);
    CHECK(f.at(1, 1).strategy == "none");
    CHECK(f.at(1, 1).stability == -1);
  }

  TEST_CASE("malformed classification files give one-line errors") {
    auto err = [](const std::string& text) {
      try {
        parse_classifications(text, "c.json");
      } catch (const Error& e) {
        std::string m = e.what();
        CHECK(m.find('\n') == std::string::npos);
        return m;
      }
      return std::string("no error");
    };
    CHECK(err("{\"classifications\": [").find("cannot parse c.json") == 0);
    CHECK(err("[]").find("expected a JSON object") != std::string::npos);
    CHECK(err("{\"heads\": []}").find("missing 'classifications'") != std::string::npos);
    CHECK(err("{\"classifications\": []}").find("empty") != std::string::npos);
    CHECK(err("{\"classifications\": [{\"layer_idx\": 0}]}").find("missing field 'head_idx'") !=
          std::string::npos);
    CHECK(err("{\"classifications\": [" + legacy_entry(0, 0, "weird") + "]}")
              .find("unknown head_type 'weird'") != std::string::npos);
    CHECK(err("{\"classifications\": [" + legacy_entry(0, 0, "mixed") + "," +
              legacy_entry(0, 0, "mixed") + "]}")
              .find("duplicate entry for layer 0 head 0") != std::string::npos);
    CHECK(err("{\"classifications\": [" + legacy_entry(0, 0, "mixed") + "," +
              legacy_entry(1, 1, "mixed") + "]}")
              .find("no entry for layer 0 head 1") != std::string::npos);
    CHECK(err("{\"classifications\": [{\"layer_idx\": \"0\", \"head_idx\": 0}]}")
              .find("'layer_idx' must be an integer") != std::string::npos);
    CHECK_THROWS_AS(read_classifications("/nonexistent/head_classifications.json"), Error);
  }

  TEST_CASE("classification file whose layer/head count does not match the model") {
    std::string text = "{\"classifications\": [" + legacy_entry(0, 0, "mixed") + "," +
                       legacy_entry(0, 1, "mixed") + "]}";
    ClassificationFile f = parse_classifications(text, "c.json");
    CHECK_NOTHROW(check_classifications_match(f, 1, 2, "c.json"));
    try {
      check_classifications_match(f, 6, 4, "c.json");
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(std::string(e.what()) ==
            "c.json classifies 1 layers x 2 heads, but the model has 6 layers x 4 heads");
    }
  }

  TEST_CASE("classification rules on hand-made statistics") {
    Thresholds t;
    double rel[64] = {0};
    ClassifierInput in;
    in.relative_position_dist = rel;
    in.rel_len = 64;
    auto cls = [&](double e, double s, double loc, double u) {
      in.mean_entropy = e;
      in.sink_ratio = s;
      in.local = loc;
      in.uniformity = u;
      return classify_head(2, 3, in, t);
    };
    // 1. dead wins over everything
    auto c = cls(0.5, 0.9, 0.9, 0.04);
    CHECK(c.type == "dead");
    CHECK(c.confidence == doctest::Approx(0.6));
    CHECK(c.can_prune);
    CHECK_FALSE(c.use_full_cache);
    CHECK(c.strategy == "prune");
    CHECK(c.layer == 2);
    CHECK(c.head == 3);
    // 2. sink positional
    c = cls(1.0, 0.45, 0.9, 2.0);
    CHECK(c.type == "sink_positional");
    CHECK(c.confidence == doctest::Approx(0.45));
    CHECK(c.keep_sinks);
    CHECK(c.recommended_window == 8);
    CHECK(c.strategy == "sink_window");
    // 3. true positional; window from the relative-position profile
    rel[0] = 0.5;
    rel[1] = 0.2;
    rel[2] = 0.05;
    rel[9] = 0.1;  // cumulative 0.85 > 0.8 first at i = 9 -> max(8, 13) = 13
    c = cls(0.75, 0.1, 0.9, 2.0);
    CHECK(c.type == "true_positional");
    CHECK(c.confidence == doctest::Approx(0.75));  // (1 - 0.5) * 1.5
    CHECK(c.recommended_window == 13);
    CHECK(c.strategy == "window_only");
    CHECK_FALSE(c.keep_sinks);
    CHECK(c.can_limit_window);
    rel[9] = 0;
    c = cls(0.3, 0.1, 0.9, 2.0);
    CHECK(c.recommended_window == 16);  // never exceeds 0.8
    CHECK(c.confidence == 1.0);         // clamped
    rel[0] = 0.9;
    c = cls(0.3, 0.1, 0.9, 2.0);
    CHECK(c.recommended_window == 8);  // i = 0 -> max(8, 4)
    // 4. low entropy otherwise: mixed
    c = cls(1.0, 0.1, 0.5, 2.0);
    CHECK(c.type == "mixed");
    CHECK(c.confidence == 0.5);
    CHECK(c.strategy == "none");
    CHECK(c.use_full_cache);
    // 5. sink mixed
    c = cls(2.25, 0.5, 0.1, 1.0);
    CHECK(c.type == "sink_mixed");
    CHECK(c.confidence == doctest::Approx(0.25));
    CHECK(c.recommended_window == 24);
    CHECK(c.strategy == "sink_window");
    // 6. gathering
    c = cls(3.5, 0.5, 0.1, 1.0);
    CHECK(c.type == "gathering");
    CHECK(c.confidence == doctest::Approx(0.25));
    CHECK(c.strategy == "full");
    CHECK(cls(6.0, 0.0, 0.0, 1.0).confidence == 1.0);
    // 7. otherwise mixed
    c = cls(2.0, 0.1, 0.1, 1.0);
    CHECK(c.type == "mixed");
    CHECK(c.recommended_window == -1);
    // custom thresholds move the boundaries
    t.high_entropy = 2.0;
    CHECK(cls(2.25, 0.1, 0.1, 1.0).type == "gathering");
  }

  TEST_CASE("bad thresholds") {
    Thresholds t;
    CHECK_NOTHROW(t.validate());
    t.low_entropy = 3.0;
    CHECK_THROWS_WITH_AS(t.validate(),
                         doctest::Contains("must be below high_entropy"), Error);
    t = Thresholds{};
    t.high_local = 1.5;
    CHECK_THROWS_AS(t.validate(), Error);
    t = Thresholds{};
    t.dead_uniformity = -1;
    CHECK_THROWS_AS(t.validate(), Error);
  }

  TEST_CASE("statistics of hand-built attention maps") {
    c10::InferenceMode guard;
    const int64_t T = 12;
    at::Tensor P = at::zeros({2, T, T});
    for (int64_t q = 0; q < T; ++q) {
      for (int64_t k = 0; k <= q; ++k) P[0][q][k] = 1.0f / float(q + 1);  // uniform causal
      P[1][q][std::max<int64_t>(0, q - 1)] = 1.0f;                         // previous token
    }
    StatsOptions so;  // sink 4, local 8, recent 0.1, 64 distances
    BlockSums b = reduce_attention_block(P, 0, 0, T, so);
    REQUIRE(b.queries == T);
    REQUIRE(b.kl_queries == T - 1);
    auto col = [&](int64_t h, int64_t c) { return double(b.sums[h][c].item<float>()); };
    // head 0 (uniform): entropy log(q+1), max 1/(q+1), sink min(4,q+1)/(q+1),
    // local min(9,q+1)/(q+1), recent: keys >= floor(12*0.9) = 10, KL 0.
    double ent = 0, mx = 0, sink = 0, local = 0, recent = 0;
    std::vector<double> rel(64, 0.0);
    for (int64_t q = 0; q < T; ++q) {
      const double n = double(q + 1);
      ent += std::log(n);
      mx += 1 / n;
      sink += std::min(4.0, n) / n;
      local += std::min(9.0, n) / n;
      recent += std::max(0.0, n - 10) / n;
      for (int64_t d = 0; d <= q; ++d) rel[d] += 1 / n;
    }
    CHECK(col(0, kSumEntropy) == doctest::Approx(ent).epsilon(1e-5));
    CHECK(col(0, kSumMax) == doctest::Approx(mx).epsilon(1e-6));
    CHECK(col(0, kSumSink) == doctest::Approx(sink).epsilon(1e-6));
    CHECK(col(0, kSumLocal) == doctest::Approx(local).epsilon(1e-6));
    CHECK(col(0, kSumRecent) == doctest::Approx(recent).epsilon(1e-6));
    CHECK(std::abs(col(0, kSumKL)) < 1e-5);
    for (int64_t d = 0; d < 64; ++d)
      CHECK(col(0, kNumSumColumns + d) == doctest::Approx(rel[d]).epsilon(1e-6));
    // head 1 (previous token): entropy 0, max 1, sink: queries 0..4 -> 5, local 12,
    // recent: query 11 looks at key 10 -> 1, KL log(q+1) for q >= 1; rel[0] = 1, rel[1] = 11.
    double kl = 0;
    for (int64_t q = 1; q < T; ++q) kl += std::log(double(q + 1));
    CHECK(std::abs(col(1, kSumEntropy)) < 1e-5);
    CHECK(col(1, kSumMax) == doctest::Approx(12.0));
    CHECK(col(1, kSumSink) == doctest::Approx(5.0));
    CHECK(col(1, kSumLocal) == doctest::Approx(12.0));
    CHECK(col(1, kSumRecent) == doctest::Approx(1.0));
    CHECK(col(1, kSumKL) == doctest::Approx(kl).epsilon(1e-5));
    CHECK(col(1, kNumSumColumns + 0) == doctest::Approx(1.0));
    CHECK(col(1, kNumSumColumns + 1) == doctest::Approx(11.0));
    CHECK(col(1, kNumSumColumns + 2) == 0.0);

    // The same maps split into query blocks with offsets give the same sums.
    BlockSums b1 = reduce_attention_block(P.narrow(1, 0, 5).narrow(2, 0, 5), 0, 0, T, so);
    BlockSums b2 = reduce_attention_block(P.narrow(1, 5, 7), 5, 0, T, so);
    CHECK(b1.kl_queries + b2.kl_queries == T - 1);
    CHECK((b1.sums + b2.sums - b.sums).abs().max().item<float>() < 1e-4);
    // Keys that start later (a block whose first key column is position 3).
    BlockSums b3 = reduce_attention_block(P.narrow(1, 5, 7).narrow(2, 3, 9), 5, 3, T, so);
    CHECK(b3.sums[1][kSumSink].item<float>() == doctest::Approx(b2.sums[1][kSumSink].item<float>()));
    CHECK(b3.sums[1][kSumLocal].item<float>() == doctest::Approx(7.0));
    CHECK(b3.sums[1][kNumSumColumns + 1].item<float>() == doctest::Approx(7.0));
  }

  TEST_CASE("final statistics, std over chunks and stability from per-chunk values") {
    AnalysisResult r;
    r.layers = 1;
    r.heads = 2;
    for (int c = 0; c < 4; ++c) {
      ChunkValues cv;
      cv.length = 512;
      cv.scalars = Eigen::ArrayXXf::Zero(2, ChunkValues::NumColumns);
      cv.rel = Eigen::ArrayXXf::Zero(2, 64);
      cv.scalars.col(ChunkValues::Uniformity) = 2.0f;
      // head 0: gathering in every chunk (entropy 4, 4, 5, 5)
      cv.scalars(0, ChunkValues::Entropy) = c < 2 ? 4.0f : 5.0f;
      // head 1: entropy 1, 1, 1, 2.5; local 0.9 -> true positional in 3 of 4 chunks
      cv.scalars(1, ChunkValues::Entropy) = c < 3 ? 1.0f : 2.5f;
      cv.scalars(1, ChunkValues::Local) = 0.9f;
      cv.rel(1, 0) = 0.9f;
      r.chunks.push_back(cv);
    }
    finalize_analysis(r);
    REQUIRE(r.stats.size() == 2);
    CHECK(r.stats[0].mean_entropy == doctest::Approx(4.5));
    CHECK(r.stats[0].std_entropy == doctest::Approx(0.5).epsilon(1e-5));
    CHECK(r.classes[0].type == "gathering");
    CHECK(r.classes[0].confidence == doctest::Approx(0.75));
    CHECK(r.classes[0].stability == 1.0);
    CHECK(r.stats[1].mean_entropy == doctest::Approx(1.375));
    CHECK(r.stats[1].std_entropy == doctest::Approx(std::sqrt(0.421875)).epsilon(1e-5));
    CHECK(r.classes[1].type == "true_positional");
    CHECK(r.classes[1].recommended_window == 8);
    CHECK(r.classes[1].stability == 0.75);
    CHECK(r.chunk_types[1][3] == "mixed");
  }

  TEST_CASE("analysis config: defaults, overrides, bad values") {
    AnalysisConfig def = load_analysis_config(test::repo("configs/analysis.toml"));
    CHECK(def.max_tokens == 2048);
    CHECK(def.options.chunk_size == 512);
    CHECK(def.options.stats.sink_size == 4);
    CHECK(def.options.stats.local_window == 8);
    CHECK(def.options.stats.recent_ratio == 0.1);
    CHECK(def.options.thresholds.low_entropy == 1.5);
    CHECK(def.options.thresholds.high_sink == 0.3);
    CHECK(def.hash() == AnalysisConfig{}.hash());  // the shipped file holds the defaults
    AnalysisConfig c = parse_analysis_config(
        "[stats]\nchunk_size = 256\ncontext = \"full\"\n[thresholds]\nhigh_entropy = 4\n", "t.toml");
    CHECK(c.options.chunk_size == 256);
    CHECK(c.options.context == ContextMode::Full);
    CHECK(c.options.thresholds.high_entropy == 4.0);
    CHECK(c.hash() != def.hash());
    auto err = [](const std::string& text) {
      try {
        parse_analysis_config(text, "bad.toml");
      } catch (const Error& e) {
        std::string m = e.what();
        CHECK(m.find('\n') == std::string::npos);
        return m;
      }
      return std::string("no error");
    };
    CHECK(err("[thresholds]\nlow_entropy = 3.5\n").find("must be below high_entropy") != std::string::npos);
    CHECK(err("[stats]\nchunk_size = -4\n").find("chunk_size must be >= 1") != std::string::npos);
    CHECK(err("[stats]\nsink_size = -1\n").find("sink_size must be >= 0") != std::string::npos);
    CHECK(err("[stats]\nlocal_window = -8\n").find("local_window") != std::string::npos);
    CHECK(err("[stats]\nchunk_size = 1.5\n").find("must be an integer") != std::string::npos);
    CHECK(err("[stats]\nchunk_size = \n").find("bad.toml: invalid TOML at line 2") == 0);
    CHECK(err("[stats\n").find("invalid TOML") != std::string::npos);
    CHECK(err("[stats]\nchunk = 3\n").find("unknown key 'chunk'") != std::string::npos);
    CHECK(err("[tresholds]\n").find("unknown section") != std::string::npos);
    CHECK(err("[stats]\ncontext = \"half\"\n").find("unknown context mode") != std::string::npos);
    CHECK(err("[thresholds]\nhigh_sink = \"x\"\n").find("must be a number") != std::string::npos);
    CHECK_THROWS_AS(load_analysis_config("/nonexistent/analysis.toml"), Error);
  }

  TEST_CASE("analyze_heads on the bundled model: short tail chunks are skipped, too few tokens is an error") {
    c10::InferenceMode guard;
    Model m = Model::load(test::bundled_model());
    std::vector<int64_t> ids;
    for (int i = 0; i < 40; ++i) ids.push_back(100 + 37 * i);
    AnalysisOptions opt;
    opt.chunk_size = 16;  // chunks of 16, 16 and 8 tokens: the last is skipped
    AnalysisResult r = analyze_heads(m, ids, opt);
    REQUIRE(r.chunks.size() == 2);
    CHECK(r.chunks[1].begin == 16);
    CHECK(r.layers == 6);
    CHECK(r.heads == 4);
    for (const auto& s : r.stats) {
      CHECK(s.mean_entropy >= 0);
      CHECK(s.mean_entropy <= std::log(16.0) + 1e-5);
      CHECK(s.local + s.global >= 1.0 - s.sink - 1e-5);
      double rel = 0;
      for (double v : s.relative_position_dist) rel += v;
      CHECK(rel == doctest::Approx(1.0).epsilon(1e-5));  // every distance of a 16-token chunk < 64
    }
    // Full context: several query blocks per chunk give the same values as one block.
    AnalysisOptions full = opt;
    full.context = ContextMode::Full;
    AnalysisResult f1 = analyze_heads(m, ids, full);
    full.full_query_block = 4;
    AnalysisResult f4 = analyze_heads(m, ids, full);
    REQUIRE(f1.chunks.size() == 2);
    REQUIRE(f4.chunks.size() == 2);
    for (size_t c = 0; c < 2; ++c) {
      CHECK((f1.chunks[c].scalars - f4.chunks[c].scalars).abs().maxCoeff() < 1e-5f);
      CHECK((f1.chunks[c].rel - f4.chunks[c].rel).abs().maxCoeff() < 1e-5f);
    }
    // ... and its first chunk equals the chunks mode's (same context).
    CHECK((f1.chunks[0].scalars - r.chunks[0].scalars).abs().maxCoeff() < 1e-5f);
    full.full_query_block = 5;
    CHECK_THROWS_WITH_AS(analyze_heads(m, ids, full), doctest::Contains("must divide chunk_size"), Error);
    std::vector<int64_t> few(ids.begin(), ids.begin() + 8);
    CHECK_THROWS_WITH_AS(analyze_heads(m, few, opt),
                         "no chunk of at least 10 tokens to analyse (8 tokens)", Error);
    opt.chunk_size = 0;
    CHECK_THROWS_WITH_AS(analyze_heads(m, ids, opt), doctest::Contains("chunk_size must be >= 1"), Error);
  }
}
