// Analyzer against the Python original: the published Pythia-2.8b classification (legacy
// schema) and the seed_analysis fixture on neox-gutenberg-14m.
#include <doctest/doctest.h>

#include <map>

#include "analyzer/classification_io.h"
#include "common/error.h"
#include "tests/support.h"

using namespace headscope;

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
}
