// Head map and heatmaps from the Python original's analysis files (../shared fixtures): the
// 14m model's seed analysis (24 heads) and the published pythia-2.8b classification (1024 heads).
// Counts in the legends are checked against each file's own "summary.type_distribution".
#include <doctest/doctest.h>

#include <string>

#include "common/error.h"
#include "tests/support.h"
#include "tests/viz_checks.h"
#include "viz/figures.h"

using namespace headscope;
using namespace headscope::viz;
using headscope::test::png_info;
using headscope::test::slurp;
using headscope::test::svg_valid;
using headscope::test::TempDir;

namespace {
const std::string kSeed = "fixtures/neox-gutenberg-14m/seed_analysis/";
const std::string kPythia = "fixtures/seed-format/pythia-2.8b_head_classifications.json";
}  // namespace

TEST_SUITE("fixture_viz") {
  TEST_CASE("seed analysis classifications: head map with the summary's counts") {
    TempDir d;
    HeadTypeGrid g = read_head_types(test::shared(kSeed + "head_classifications.json"));
    CHECK(g.layers == 6);
    CHECK(g.heads == 4);
    CHECK_FALSE(g.has_stability);
    CHECK(g.at(0, 0).type == "gathering");
    CHECK(g.at(0, 0).confidence == doctest::Approx(0.4940500259399414));
    plot_headmap(g, d.file("map.png"));
    auto info = png_info(d.file("map.png"));
    CHECK(info.valid);
    CHECK(info.width == 1000);
    CHECK(info.height == 700);
    plot_headmap(g, d.file("map.svg"));
    std::string svg = slurp(d.file("map.svg"));
    CHECK(svg_valid(svg));
    // summary.type_distribution: gathering 15, mixed 6, true_positional 3.
    CHECK(svg.find("gathering (15)") != std::string::npos);
    CHECK(svg.find("mixed (6)") != std::string::npos);
    CHECK(svg.find("true_positional (3)") != std::string::npos);
    CHECK(svg.find("shade: confidence") != std::string::npos);
    CHECK(svg.find("6 layers x 4 heads = 24") != std::string::npos);
  }

  TEST_CASE("pythia-2.8b legacy classifications: 32 x 32 head map") {
    TempDir d;
    HeadTypeGrid g = read_head_types(test::shared(kPythia));
    CHECK(g.layers == 32);
    CHECK(g.heads == 32);
    CHECK(g.cells.size() == 1024);
    plot_headmap(g, d.file("map.png"));
    CHECK(png_info(d.file("map.png")).valid);
    plot_headmap(g, d.file("map.svg"));
    std::string svg = slurp(d.file("map.svg"));
    CHECK(svg_valid(svg));
    // summary.type_distribution: positional 370, gathering 88, mixed 566.
    CHECK(svg.find("positional (370)") != std::string::npos);
    CHECK(svg.find("gathering (88)") != std::string::npos);
    CHECK(svg.find("mixed (566)") != std::string::npos);
  }

  TEST_CASE("seed analysis statistics: every heatmap") {
    TempDir d;
    HeadStatsGrid g = read_head_stats(test::shared(kSeed + "head_statistics.json"));
    CHECK(g.layers == 6);
    CHECK(g.heads == 4);
    CHECK(g.relpos_len == 64);
    CHECK(g.sink_size == 4);
    CHECK(g.local_window == 8);
    CHECK(g.at(0, 0).mean_entropy == doctest::Approx(3.988100051879883));
    CHECK(g.at(0, 0).local_ratio == doctest::Approx(0.3047093451023102));
    for (const char* m : {"entropy", "sink", "local", "relpos"}) {
      const std::string png = d.file(std::string(m) + ".png");
      plot_heatmap(g, parse_heat_metric(m), png);
      auto info = png_info(png);
      CHECK_MESSAGE(info.valid, m);
      CHECK(info.width == 1000);
      CHECK(info.bytes > 5000);
      const std::string svg = d.file(std::string(m) + ".svg");
      plot_heatmap(g, parse_heat_metric(m), svg);
      CHECK_MESSAGE(svg_valid(slurp(svg)), m);
    }
  }

  TEST_CASE("plot all from the seed analysis files") {
    TempDir d;
    PlotAllInputs in;
    in.classifications = test::shared(kSeed + "head_classifications.json");
    in.stats = test::shared(kSeed + "head_statistics.json");
    PlotAllReport r = plot_all(in, d.file("figs"), "png");
    CHECK(r.written.size() == 5);
    REQUIRE(r.skipped.size() == 1);
    CHECK(r.skipped[0].find("no input given") != std::string::npos);
    for (const auto& p : r.written) CHECK_MESSAGE(png_info(p).valid, p);
  }
}
