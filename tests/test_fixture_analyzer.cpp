// Analyzer against the Python original: the published Pythia-2.8b classification (legacy
// schema) and the seed_analysis fixture on neox-gutenberg-14m.
#include <doctest/doctest.h>

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "analyzer/analysis_io.h"
#include "analyzer/analyzer.h"
#include "analyzer/classification_io.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "common/text.h"
#include "model/tokenizer.h"
#include "tests/support.h"

using namespace headscope;

namespace {

// The fixture's setting: first 2048 tokens of book 10146 (LF), chunk 512, defaults.
std::vector<int64_t> fixture_tokens(const std::string& model_dir) {
  std::string text = load_text(test::repo("data/pg19-10146.txt"), Newlines::LF);
  std::vector<int64_t> ids = Tokenizer::load(model_dir).encode(text);
  REQUIRE(ids.size() >= 2048);
  ids.resize(2048);
  return ids;
}

const std::string kSeed = "fixtures/neox-gutenberg-14m/seed_analysis/";

}  // namespace

TEST_SUITE("fixture_analyzer") {
  TEST_CASE("reads the legacy pythia-2.8b classification file") {
    const std::string path = test::shared("fixtures/seed-format/pythia-2.8b_head_classifications.json");
    ClassificationFile f = read_classifications(path);
    CHECK(f.legacy_schema);
    CHECK(f.num_layers == 32);
    CHECK(f.num_heads == 32);
    REQUIRE(f.heads.size() == 1024);
    std::map<std::string, int> n;
    int limitable = 0;
    for (const auto& c : f.heads) {
      n[c.type]++;
      limitable += c.can_limit_window;
    }
    CHECK(n["positional"] == 370);
    CHECK(n["gathering"] == 88);
    CHECK(n["mixed"] == 566);
    CHECK(limitable == 370);
    CHECK(f.at(0, 0).type == "gathering");
    CHECK(f.at(0, 0).confidence == 0.384765625);
    CHECK(f.at(31, 31).layer == 31);
    CHECK_NOTHROW(check_classifications_match(f, 32, 32, path));
    CHECK_THROWS_AS(check_classifications_match(f, 6, 4, path), Error);
  }

  TEST_CASE("reads the seed_analysis classification file (new schema)") {
    ClassificationFile f = read_classifications(
        test::shared("fixtures/neox-gutenberg-14m/seed_analysis/head_classifications.json"));
    CHECK_FALSE(f.legacy_schema);
    CHECK(f.num_layers == 6);
    CHECK(f.num_heads == 4);
    CHECK(f.at(4, 0).type == "true_positional");
    CHECK(f.at(4, 0).recommended_window == 15);
    CHECK(f.at(4, 0).strategy == "window_only");
    CHECK_FALSE(f.at(4, 0).use_full_cache);
  }

  TEST_CASE("reproduces the Python original's seed_analysis on neox-gutenberg-14m") {
    c10::InferenceMode guard;
    const std::string model_dir = test::shared("models/neox-gutenberg-14m");
    Model model = Model::load(model_dir);
    std::vector<int64_t> ids = fixture_tokens(model_dir);
    AnalysisOptions opt;  // the original's defaults: chunk 512, sink 4, local 8, recent 0.1
    AnalysisResult r = analyze_heads(model, ids, opt);
    REQUIRE(r.chunks.size() == 4);
    REQUIRE(r.stats.size() == 24);

    std::vector<HeadStatistics> ref =
        parse_head_statistics(read_file(test::shared(kSeed + "head_statistics.json")), "fixture");
    REQUIRE(ref.size() == 24);
    double max_err = 0, max_err_no_std = 0;
    std::string worst;
    auto cmp = [&](double a, double b, const std::string& what) {
      double e = std::abs(a - b);
      if (what.find("std_entropy") == std::string::npos) max_err_no_std = std::max(max_err_no_std, e);
      if (e > max_err) {
        max_err = e;
        worst = what;
      }
    };
    for (size_t i = 0; i < ref.size(); ++i) {
      const auto& a = r.stats[i];
      const auto& b = ref[i];
      REQUIRE(a.layer == b.layer);
      REQUIRE(a.head == b.head);
      const std::string id = "L" + std::to_string(a.layer) + "H" + std::to_string(a.head) + " ";
      cmp(a.mean_entropy, b.mean_entropy, id + "mean_entropy");
      cmp(a.std_entropy, b.std_entropy, id + "std_entropy");
      cmp(a.max_attention_mean, b.max_attention_mean, id + "max_attention_mean");
      cmp(a.sink, b.sink, id + "sink");
      cmp(a.recent, b.recent, id + "recent");
      cmp(a.local, b.local, id + "local");
      cmp(a.global, b.global, id + "global");
      cmp(a.uniformity, b.uniformity, id + "uniformity_score");
      REQUIRE(a.relative_position_dist.size() == b.relative_position_dist.size());
      for (size_t d = 0; d < b.relative_position_dist.size(); ++d)
        cmp(a.relative_position_dist[d], b.relative_position_dist[d],
            id + "relative_position_dist[" + std::to_string(d) + "]");
    }
    MESSAGE("max |statistic - fixture| = " << max_err << " (" << worst
                                              << "); without std_entropy: " << max_err_no_std);
    CHECK(max_err < 1e-4);

    ClassificationFile cref = read_classifications(test::shared(kSeed + "head_classifications.json"));
    double max_conf = 0;
    for (const auto& c : r.classes) {
      const auto& e = cref.at(c.layer, c.head);
      CHECK_MESSAGE(c.type == e.type, "L" << c.layer << "H" << c.head);
      CHECK(c.strategy == e.strategy);
      CHECK(c.recommended_window == e.recommended_window);
      CHECK(c.can_prune == e.can_prune);
      CHECK(c.can_limit_window == e.can_limit_window);
      CHECK(c.keep_sinks == e.keep_sinks);
      CHECK(c.sink_size == e.sink_size);
      CHECK(c.use_full_cache == e.use_full_cache);
      CHECK(c.stability >= 0.0);
      CHECK(c.stability <= 1.0);
      max_conf = std::max(max_conf, std::abs(c.confidence - e.confidence));
    }
    MESSAGE("max |confidence - fixture| = " << max_conf);
    CHECK(max_conf < 1e-4);

    // The written files: statistics in the original's schema, the summary block identical.
    const auto dir = std::filesystem::temp_directory_path() / "headscope_fixture_analyzer";
    headscope::test::remove_tree(dir);
    write_head_statistics((dir / "head_statistics.json").string(), r);
    write_classifications((dir / "head_classifications.json").string(), r.classes);
    auto back = parse_head_statistics(read_file((dir / "head_statistics.json").string()), "out");
    REQUIRE(back.size() == 24);
    CHECK(back[5].mean_entropy == r.stats[5].mean_entropy);
    auto ours = nlohmann::json::parse(read_file((dir / "head_classifications.json").string()));
    auto theirs = nlohmann::json::parse(read_file(test::shared(kSeed + "head_classifications.json")));
    CHECK(ours["summary"] == theirs["summary"]);
    auto stats_ours = nlohmann::json::parse(read_file((dir / "head_statistics.json").string()));
    auto stats_theirs = nlohmann::json::parse(read_file(test::shared(kSeed + "head_statistics.json")));
    CHECK(stats_ours["model_info"] == stats_theirs["model_info"]);
    headscope::test::remove_tree(dir);
    // (full-context mode is checked against the chunks mode in the analyzer suite)
  }
}
