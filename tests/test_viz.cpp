// Figures from small hand-written result files: every figure kind renders a valid PNG and SVG,
// the labelled/paired/matched data are the ones the rules select, and bad inputs give Errors.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/error.h"
#include "tests/support.h"
#include "tests/viz_checks.h"
#include "viz/figures.h"
#include "viz/gnuplot.h"

using namespace headscope;
using namespace headscope::viz;
using headscope::test::png_info;
using headscope::test::slurp;
using headscope::test::svg_valid;
using headscope::test::TempDir;
namespace fs = std::filesystem;

namespace {

// One result line of an ablation.json.
std::string res(const std::string& name, const std::string& group, double ppl, double nominal,
                double measured, const std::string& params) {
  return "{\"name\": \"" + name + "\", \"group\": \"" + group + "\", \"perplexity\": " +
         std::to_string(ppl) + ", \"accuracy\": 0.3, \"nominal_context\": " +
         std::to_string(nominal) + ", \"measured_context\": " + std::to_string(measured) +
         ", \"tokens_per_s\": 5000.0, \"wall_s\": 0.2, \"params\": " + params + "}";
}

std::string ablation_json(const std::string& results) {
  return "{\"schema\": \"headscope.ablation/1\", \"model\": \"models/neox-gutenberg-14m\", "
         "\"text\": \"data/pg19-10146.txt\", \"tokens\": 1000, "
         "\"dense\": {\"perplexity\": 70.1, \"accuracy\": 0.31}, "
         "\"classifications\": \"results/default/head_classifications.json\", "
         "\"results\": [" + results + "]}";
}

// A, B at 64 and 128, a lone B at 256, G at two base windows (three thresholds each), one I,
// one J, one K and a user group. Head-aware front by hand: G_64_t0.3 (ctx 70, 95),
// G_64_t0.5 (ctx 80, 90), G_128_t0.3 (ctx 130, 80), K_best (ctx 140, 75); dominated:
// G_64_t0.7 (ctx 90, 99), G_128_t0.5 (ctx 150, 85), G_128_t0.7 (ctx 160, 82), I_types (ctx 135, 81),
// J_types (ctx 200, 76). B (log-context interpolation of (61, 100), (121.4, 78.6), (240, 72)) at
// those contexts: 95.72, 91.57, 77.94, 77.22, so PPL/B = 0.9925, 0.983, 1.026, 0.971. Ranked:
// K_best, G_64_t0.5, then G_64_t0.3 (context within 1.3x of G_64_t0.5's) and G_128_t0.3 (within
// 1.3x of K_best's) are left unlabelled.
std::string full_ablation() {
  const std::string g = "{\"builder\": \"confidence\", \"threshold\": ";
  return ablation_json(
      res("A_window_64", "A", 400, 64, 64, "{\"builder\": \"uniform\", \"sink\": 0, \"window\": 64}") + "," +
      res("A_window_128", "A", 300, 128, 128, "{\"builder\": \"uniform\", \"sink\": 0, \"window\": 128}") + "," +
      res("B_streaming_64", "B", 100, 64, 61, "{\"builder\": \"uniform\", \"sink\": 4, \"window\": 60}") + "," +
      res("B_streaming_128", "B", 78.6, 128, 121.4, "{\"builder\": \"uniform\", \"sink\": 4, \"window\": 124}") + "," +
      res("B_streaming_256", "B", 72, 256, 240, "{\"builder\": \"uniform\", \"sink\": 4, \"window\": 252}") + "," +
      res("G_64_t0.3", "G", 95, 64, 70, g + "0.3, \"base_window\": 64, \"high_conf_windows\": {}}") + "," +
      res("G_64_t0.5", "G", 90, 64, 80, g + "0.5, \"base_window\": 64, \"high_conf_windows\": {}}") + "," +
      res("G_64_t0.7", "G", 99, 64, 90, g + "0.7, \"base_window\": 64, \"high_conf_windows\": {}}") + "," +
      res("G_128_t0.3", "G", 80, 128, 130, g + "0.3, \"base_window\": 128, \"high_conf_windows\": {}}") + "," +
      res("G_128_t0.5", "G", 85, 128, 150, g + "0.5, \"base_window\": 128, \"high_conf_windows\": {}}") + "," +
      res("G_128_t0.7", "G", 82, 128, 160, g + "0.7, \"base_window\": 128, \"high_conf_windows\": {}}") + "," +
      res("I_types", "I", 81, 128, 135, "{\"builder\": \"from_classifications\", \"window_override\": {\"mixed\": 64}}") + "," +
      res("J_types", "J", 76, 192, 200, "{\"builder\": \"from_classifications\", \"window_override\": {\"mixed\": 128}}") + "," +
      res("K_best", "K", 75, 128, 140, "{\"builder\": \"confidence\"}") + "," +
      res("my_probe", "user_probe", 88, 96, 96, "{}"));
}

const char* kClassifications = R"({"classifications": [
 {"layer_idx": 0, "head_idx": 0, "head_type": "gathering", "confidence": 0.9, "can_prune": false, "can_limit_window": false, "recommended_window": -1, "stability": 1.0},
 {"layer_idx": 0, "head_idx": 1, "head_type": "sink_positional", "confidence": 0.6, "can_prune": false, "can_limit_window": true, "recommended_window": 16, "stability": 0.5},
 {"layer_idx": 0, "head_idx": 2, "head_type": "dead", "confidence": 0.3, "can_prune": true, "can_limit_window": false, "recommended_window": -1, "stability": 0.0},
 {"layer_idx": 1, "head_idx": 0, "head_type": "gathering", "confidence": 0.7, "can_prune": false, "can_limit_window": false, "recommended_window": -1, "stability": 0.75},
 {"layer_idx": 1, "head_idx": 1, "head_type": "mixed", "confidence": 0.5, "can_prune": false, "can_limit_window": false, "recommended_window": -1, "stability": 0.25},
 {"layer_idx": 1, "head_idx": 2, "head_type": "true_positional", "confidence": 0.8, "can_prune": false, "can_limit_window": true, "recommended_window": 8, "stability": 0.9}
], "summary": {"total_heads": 6}})";

std::string stats_head(int l, int h, double ent, double sink, double local, int len = 64) {
  std::string rp;
  for (int d = 0; d < len; ++d) rp += (d ? "," : "") + std::to_string(0.5 / (1.0 + d * (h + 1)));
  return "{\"layer_idx\": " + std::to_string(l) + ", \"head_idx\": " + std::to_string(h) +
         ", \"mean_entropy\": " + std::to_string(ent) + ", \"std_entropy\": 0.1, \"sink_ratio\": " +
         std::to_string(sink) + ", \"position_preference\": {\"sink\": " + std::to_string(sink) +
         ", \"recent\": 0.1, \"local\": " + std::to_string(local) + ", \"global\": 0.2}, " +
         "\"uniformity_score\": 1.0, \"relative_position_dist\": [" + rp + "]}";
}

std::string stats_json(const std::string& heads) {
  return "{\"model_info\": {\"num_layers\": 2, \"num_heads\": 3, \"sink_size\": 4, "
         "\"local_window\": 8, \"recent_ratio\": 0.1}, \"head_statistics\": [" + heads + "]}";
}

std::string full_stats() {
  std::string s;
  for (int l = 0; l < 2; ++l)
    for (int h = 0; h < 3; ++h)
      s += std::string(s.empty() ? "" : ",") +
           stats_head(l, h, 1.0 + l + 0.5 * h, 0.1 * (h + 1), 0.2 + 0.1 * l);
  return stats_json(s);
}

void check_png(const std::string& p, uint32_t w = 1000, uint32_t h = 700) {
  auto info = png_info(p);
  CHECK(info.valid);
  CHECK(info.width == w);
  CHECK(info.height == h);
  CHECK(info.bytes > 5000);  // a drawn figure, not an empty canvas
}

std::string check_svg(const std::string& p) {
  std::string s = slurp(p);
  CHECK(svg_valid(s));
  return s;
}

// Sets an environment variable for one scope.
struct EnvGuard {
  std::string name;
  std::string old;
  bool had;
  EnvGuard(const std::string& n, const std::string& v) : name(n) {
    const char* o = std::getenv(n.c_str());
    had = o != nullptr;
    if (had) old = o;
    ::setenv(n.c_str(), v.c_str(), 1);
  }
  ~EnvGuard() {
    if (had) ::setenv(name.c_str(), old.c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

// Runs the headscope binary; returns exit status and stdout + stderr.
std::pair<int, std::string> run_cli(const std::string& args) {
  const std::string cmd = headscope::test::cli_binary() + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

}  // namespace

TEST_SUITE("viz") {
  TEST_CASE("ablation file is read with its run description") {
    TempDir d;
    AblationFile f = read_ablation(d.write("ablation.json", full_ablation()));
    CHECK(f.results.size() == 15);
    CHECK(f.info.describe() == "neox-gutenberg-14m | pg19-10146.txt | 1000 tokens");
    CHECK(f.dense_perplexity == doctest::Approx(70.1));
    CHECK(f.group("G").size() == 6);
    CHECK(f.results[2].context_key() == 64);
    CHECK(why_no_sinks(f).empty());
    CHECK(why_no_confidence(f).empty());
  }

  TEST_CASE("context figure: PNG, SVG and log x; labels the best head-aware results") {
    TempDir d;
    AblationFile f = read_ablation(d.write("ablation.json", full_ablation()));
    plot_context(f, d.file("ctx.png"));
    check_png(d.file("ctx.png"));
    PlotOptions lo;
    lo.logx = true;
    plot_context(f, d.file("ctx_log.png"), lo);
    check_png(d.file("ctx_log.png"));
    plot_context(f, d.file("ctx.svg"));
    std::string svg = check_svg(d.file("ctx.svg"));
    CHECK(svg.find("Perplexity vs effective KV context") != std::string::npos);
    CHECK(svg.find("neox-gutenberg-14m | pg19-10146.txt | 1000 tokens") != std::string::npos);
    CHECK(svg.find("B: StreamingLLM (sink + window)") != std::string::npos);
    CHECK(svg.find("user_probe") != std::string::npos);
    CHECK(svg.find("dense, full context (PPL 70.10)") != std::string::npos);
    for (const char* on : {"G_64_t0.5 (90.0)", "K_best (75.0)"})
      CHECK_MESSAGE(svg.find(on) != std::string::npos, on);
    for (const char* off : {"G_64_t0.3 (", "G_128_t0.3 (", "G_64_t0.7 (", "G_128_t0.5 (",
                            "G_128_t0.7 (", "I_types (", "J_types (", "B_streaming_128 (", "my_probe ("})
      CHECK_MESSAGE(svg.find(off) == std::string::npos, off);
  }

  TEST_CASE("sink figure pairs A and B at equal nominal context") {
    TempDir d;
    AblationFile f = read_ablation(d.write("ablation.json", full_ablation()));
    plot_sinks(f, d.file("sinks.png"));
    check_png(d.file("sinks.png"));
    plot_sinks(f, d.file("sinks.svg"));
    std::string svg = check_svg(d.file("sinks.svg"));
    CHECK(svg.find("Sink importance") != std::string::npos);
    // 64: A 400 / B 100 = 4.00; 128: 300 / 78.6 = 3.82; 256 has no A partner.
    CHECK(svg.find("(A/B 4.00x)") != std::string::npos);
    CHECK(svg.find("(A/B 3.82x)") != std::string::npos);
    CHECK(svg.find("<text>128</text>") != std::string::npos);
    CHECK(svg.find("<text>256</text>") == std::string::npos);

    // Without group A there is nothing to pair.
    AblationFile nob = read_ablation(d.write("b_only.json", ablation_json(
        res("B_streaming_64", "B", 100, 64, 61, "{\"builder\": \"uniform\", \"sink\": 4, \"window\": 60}"))));
    CHECK_FALSE(why_no_sinks(nob).empty());
    CHECK_THROWS_AS(plot_sinks(nob, d.file("none.png")), Error);
    CHECK_FALSE(fs::exists(d.file("none.png")));
  }

  TEST_CASE("confidence figure: one line per base window, B at the matching context") {
    TempDir d;
    AblationFile f = read_ablation(d.write("ablation.json", full_ablation()));
    plot_confidence(f, d.file("conf.png"));
    check_png(d.file("conf.png"));
    plot_confidence(f, d.file("conf.svg"));
    std::string svg = check_svg(d.file("conf.svg"));
    CHECK(svg.find("Confidence sweep (group G)") != std::string::npos);
    CHECK(svg.find("G, base window 64") != std::string::npos);
    CHECK(svg.find("G, base window 128") != std::string::npos);
    CHECK(svg.find("B: B_streaming_64, PPL 100.00") != std::string::npos);
    CHECK(svg.find("B: B_streaming_128, PPL 78.60") != std::string::npos);
    CHECK(svg.find("B_streaming_256") == std::string::npos);

    AblationFile nog = read_ablation(d.write("no_g.json", ablation_json(
        res("A_window_64", "A", 400, 64, 64, "{\"builder\": \"uniform\", \"sink\": 0, \"window\": 64}"))));
    CHECK_FALSE(why_no_confidence(nog).empty());
    CHECK_THROWS_AS(plot_confidence(nog, d.file("none.png")), Error);
  }

  TEST_CASE("head map: type colours with counts, shaded by stability or confidence") {
    TempDir d;
    HeadTypeGrid g = read_head_types(d.write("cls.json", kClassifications));
    CHECK(g.layers == 2);
    CHECK(g.heads == 3);
    CHECK(g.has_stability);
    CHECK(g.at(1, 2).type == "true_positional");
    plot_headmap(g, d.file("map.png"));
    check_png(d.file("map.png"));
    plot_headmap(g, d.file("map.svg"));
    std::string svg = check_svg(d.file("map.svg"));
    CHECK(svg.find("Head types by layer and head") != std::string::npos);
    CHECK(svg.find("gathering (2)") != std::string::npos);
    CHECK(svg.find("dead (1)") != std::string::npos);
    CHECK(svg.find("shade: stability") != std::string::npos);
    // Full stability: the fixed type colour itself; zero stability: a pale tint.
    CHECK(svg.find("rgb(214,  39,  40)") != std::string::npos);
    CHECK(shade_toward_white(parse_rgb("#404040"), 0.0).r == 255);

    // Without stability the shade is the confidence.
    std::string no_stab = kClassifications;
    for (const char* s : {", \"stability\": 1.0", ", \"stability\": 0.5", ", \"stability\": 0.0",
                          ", \"stability\": 0.75", ", \"stability\": 0.25", ", \"stability\": 0.9"})
      no_stab.erase(no_stab.find(s), std::string(s).size());
    HeadTypeGrid g2 = read_head_types(d.write("cls2.json", no_stab));
    CHECK_FALSE(g2.has_stability);
    plot_headmap(g2, d.file("map2.svg"));
    CHECK(check_svg(d.file("map2.svg")).find("shade: confidence") != std::string::npos);
  }

  TEST_CASE("heatmaps: entropy, sink, local and relative-position profile") {
    TempDir d;
    HeadStatsGrid g = read_head_stats(d.write("stats.json", full_stats()));
    CHECK(g.layers == 2);
    CHECK(g.heads == 3);
    CHECK(g.relpos_len == 64);
    CHECK(g.at(1, 2).mean_entropy == doctest::Approx(3.0));
    CHECK(g.at(0, 1).local_ratio == doctest::Approx(0.2));
    for (const char* m : {"entropy", "sink", "local", "relpos"}) {
      plot_heatmap(g, parse_heat_metric(m), d.file(std::string(m) + ".png"));
      check_png(d.file(std::string(m) + ".png"));
      plot_heatmap(g, parse_heat_metric(m), d.file(std::string(m) + ".svg"));
      check_svg(d.file(std::string(m) + ".svg"));
    }
    CHECK(slurp(d.file("entropy.svg")).find("(nats)") != std::string::npos);
    CHECK(slurp(d.file("sink.svg")).find("first 4 tokens") != std::string::npos);
    CHECK(slurp(d.file("local.svg")).find("last 8 tokens") != std::string::npos);
    CHECK(slurp(d.file("relpos.svg")).find("Relative-position profile") != std::string::npos);
    CHECK_THROWS_AS(parse_heat_metric("entropyy"), Error);
  }

  TEST_CASE("plot all writes what its inputs allow and notes the rest") {
    TempDir d;
    PlotAllInputs in;
    in.ablation = d.write("ablation.json", full_ablation());
    in.classifications = d.write("cls.json", kClassifications);
    in.stats = d.file("missing_stats.json");
    PlotAllReport r = plot_all(in, d.file("figs"), "png");
    CHECK(r.written.size() == 4);
    for (const char* n : {"ppl_vs_context", "sink_importance", "confidence_sweep", "head_map"})
      check_png(d.file(std::string("figs/") + n + ".png"));
    REQUIRE(r.skipped.size() == 1);
    CHECK(r.skipped[0].find("missing_stats.json not found") != std::string::npos);

    PlotAllInputs only_stats;
    only_stats.stats = d.write("stats.json", full_stats());
    PlotAllReport r2 = plot_all(only_stats, d.file("svgs"), "svg");
    CHECK(r2.written.size() == 4);
    CHECK(svg_valid(slurp(d.file("svgs/heatmap_relpos.svg"))));
    CHECK(r2.skipped.size() == 2);

    // Head files that the ablation names take its model and text (not its token count).
    std::string named = full_ablation();
    named.replace(named.find("results/default/head_classifications.json"),
                  std::string("results/default/head_classifications.json").size(), "cls.json");
    PlotAllInputs linked;
    linked.ablation = d.write("linked.json", named);
    linked.classifications = in.classifications;
    PlotAllReport r3 = plot_all(linked, d.file("linked"), "svg");
    CHECK(r3.written.size() == 4);
    std::string map = slurp(d.file("linked/head_map.svg"));
    CHECK(map.find("neox-gutenberg-14m | pg19-10146.txt | 2 layers x 3 heads") != std::string::npos);
    CHECK(slurp(r.written[3]).find("neox-gutenberg-14m") == std::string::npos);

    // Every input present and every figure drawable: nothing skipped (this once crashed: the
    // "nothing to plot" message was built from an empty skipped list even on success).
    PlotAllInputs all;
    all.ablation = in.ablation;
    all.classifications = in.classifications;
    all.stats = only_stats.stats;
    PlotAllReport r4 = plot_all(all, d.file("all_png"), "png");
    CHECK(r4.written.size() == 8);
    CHECK(r4.skipped.empty());

    PlotAllInputs nothing;
    nothing.ablation = d.file("nope.json");
    CHECK_THROWS_AS(plot_all(nothing, d.file("x"), "png"), Error);
    CHECK_THROWS_AS(plot_all(in, d.file("x"), "jpg"), Error);
  }

  TEST_CASE("bad, empty and malformed result files give one-line errors") {
    TempDir d;
    auto msg = [](auto&& fn) -> std::string {
      try {
        fn();
      } catch (const Error& e) {
        return e.what();
      }
      return "";
    };
    auto one_line = [](const std::string& m) {
      return !m.empty() && m.find('\n') == std::string::npos;
    };
    std::string m;
    m = msg([&] { read_ablation(d.file("absent.json")); });
    CHECK(m.find("no such file") != std::string::npos);
    m = msg([&] { read_ablation(d.write("empty.json", "")); });
    CHECK(m.find("is empty") != std::string::npos);
    m = msg([&] { read_ablation(d.write("blank.json", " \n\t\n")); });
    CHECK(m.find("is empty") != std::string::npos);
    m = msg([&] { read_ablation(d.write("bad.json", "{\"schema\": \"headscope.ablation/1\", ")); });
    CHECK(m.find("malformed JSON") != std::string::npos);
    CHECK(one_line(m));
    m = msg([&] { read_ablation(d.write("arr.json", "[1, 2]")); });
    CHECK(m.find("JSON object") != std::string::npos);
    m = msg([&] { read_ablation(d.write("schema.json", "{\"schema\": \"other/2\"}")); });
    CHECK(m.find("expected \"headscope.ablation/1\"") != std::string::npos);
    m = msg([&] { read_ablation(d.write("nores.json", ablation_json(""))); });
    CHECK(m.find("\"results\" is empty") != std::string::npos);
    m = msg([&] {
      read_ablation(d.write("noctx.json", ablation_json(
          "{\"name\": \"x\", \"group\": \"B\", \"perplexity\": 80}")));
    });
    CHECK(m.find("results[0]: missing field \"measured_context\"") != std::string::npos);
    m = msg([&] {
      read_ablation(d.write("strppl.json", ablation_json(
          "{\"name\": \"x\", \"group\": \"B\", \"perplexity\": \"80\", \"measured_context\": 3}")));
    });
    CHECK(m.find("\"perplexity\" must be a number") != std::string::npos);
    // Without the optional dense reference the figures still draw, without the dense line.
    std::string nodense = full_ablation();
    const std::string dense_part = "\"dense\": {\"perplexity\": 70.1, \"accuracy\": 0.31}, ";
    nodense.erase(nodense.find(dense_part), dense_part.size());
    AblationFile nd = read_ablation(d.write("nodense.json", nodense));
    CHECK_FALSE(nd.has_dense());
    plot_context(nd, d.file("nodense.svg"));
    plot_sinks(nd, d.file("nodense_sinks.svg"));
    plot_confidence(nd, d.file("nodense_conf.svg"));
    CHECK(svg_valid(slurp(d.file("nodense.svg"))));
    CHECK(slurp(d.file("nodense.svg")).find("dense, full context") == std::string::npos);
    m = msg([&] { read_ablation(d.write("baddense.json", ablation_json("").replace(
                      ablation_json("").find("70.1"), 4, "-3.0"))); });
    CHECK(m.find("dense perplexity must be positive") != std::string::npos);
    // A diverged result (null perplexity) is left out with a note, not fatal.
    AblationFile f = read_ablation(d.write("nullppl.json", ablation_json(
        res("ok", "B", 80, 64, 60, "{}") +
        ", {\"name\": \"gone\", \"group\": \"B\", \"perplexity\": null, \"measured_context\": 3}")));
    CHECK(f.results.size() == 1);
    CHECK(f.notes.size() == 1);

    // Classifications: duplicate, missing, bad values, empty list.
    std::string dup = kClassifications;
    const std::string l1h2 = "\"layer_idx\": 1, \"head_idx\": 2";
    dup.replace(dup.find(l1h2), l1h2.size(), "\"layer_idx\": 1, \"head_idx\": 1");
    m = msg([&] { read_head_types(d.write("dup.json", dup)); });
    CHECK(m.find("duplicate entry for layer 1 head 1") != std::string::npos);
    std::string missing = kClassifications;
    size_t at = missing.find(",\n {\"layer_idx\": 1, \"head_idx\": 1");
    REQUIRE(at != std::string::npos);
    missing.erase(at, missing.find('}', at + 3) - at + 1);
    m = msg([&] { read_head_types(d.write("missing.json", missing)); });
    CHECK(m.find("5 heads listed, expected 2 layers x 3 heads") != std::string::npos);
    m = msg([&] { read_head_types(d.write("nocls.json", "{\"classifications\": []}")); });
    CHECK(m.find("\"classifications\" is empty") != std::string::npos);
    std::string badconf = kClassifications;
    badconf.replace(badconf.find("\"confidence\": 0.9"), 17, "\"confidence\": 1.9");
    m = msg([&] { read_head_types(d.write("conf.json", badconf)); });
    CHECK(m.find("confidence must lie in [0, 1]") != std::string::npos);
    m = msg([&] { read_head_types(d.write("stats_as_cls.json", full_stats())); });
    CHECK(m.find("missing field \"classifications\"") != std::string::npos);

    // Statistics: inconsistent profile length, missing head, wrong type.
    m = msg([&] {
      read_head_stats(d.write("len.json", stats_json(stats_head(0, 0, 1, 0.1, 0.2) + "," +
                                                      stats_head(0, 1, 1, 0.1, 0.2, 32))));
    });
    CHECK(m.find("relative_position_dist has 32 entries") != std::string::npos);
    m = msg([&] { read_head_stats(d.write("few.json", stats_json(stats_head(0, 0, 1, 0.1, 0.2)))); });
    CHECK(m.find("model_info says 2 layers x 3 heads") != std::string::npos);
    m = msg([&] { read_head_stats(d.write("cls_as_stats.json", kClassifications)); });
    CHECK(m.find("missing field \"head_statistics\"") != std::string::npos);

    // Output names and gnuplot itself.
    AblationFile good = read_ablation(d.write("good.json", full_ablation()));
    m = msg([&] { plot_context(good, d.file("fig.jpg")); });
    CHECK(m.find("must end in .png or .svg") != std::string::npos);
    m = msg([&] { render_gnuplot("plot undefined_thing(x)\n", d.file("err.png"), 400, 300); });
    CHECK(m.find("gnuplot failed") != std::string::npos);
    CHECK(one_line(m));
    CHECK_FALSE(fs::exists(d.file("err.png")));
    {
      EnvGuard env("HEADSCOPE_GNUPLOT", d.file("no-such-gnuplot"));
      m = msg([&] { plot_context(good, d.file("nognuplot.png")); });
      CHECK(m.find("gnuplot") != std::string::npos);
      CHECK_FALSE(fs::exists(d.file("nognuplot.png")));
    }
    {
      EnvGuard env("PATH", d.file("empty-bin"));
      m = msg([&] { plot_context(good, d.file("nopath.png")); });
      CHECK(m.find("gnuplot not found") != std::string::npos);
      CHECK(m.find("gnuplot-nox") != std::string::npos);
    }
    // No temporary files are left next to the outputs.
    for (const auto& e : fs::directory_iterator(d.path))
      CHECK_MESSAGE(e.path().filename().string().find(".tmp.") == std::string::npos, e.path());
  }

  TEST_CASE("gnuplot quoting keeps titles literal") {
    // single-quoted: gnuplot expands nothing inside (no backslash escapes, no backticks)
    CHECK(gp_quote("a\"b\\c") == "'a\"b\\c'");
    CHECK(gp_quote("x\ny") == "('x'.\"\\n\".'y')");
    CHECK(gp_data_string("say \"hi\"") == "\"say 'hi'\"");
    CHECK(gp_num(1.0 / 0.0) == "NaN");
    CHECK(rgb_hex(shade_toward_white(parse_rgb("#d62728"), 1.0)) == "#d62728");
    CHECK(rgb_hex(shade_toward_white(parse_rgb("#000000"), 0.5)) == "#808080");
  }

  // Few binary runs: each one loads libtorch (seconds on a loaded 2-core machine).
  TEST_CASE("headscope plot: figures, plot all, and one-line errors") {
    TempDir d;
    const std::string abl = d.write("ablation.json", full_ablation());
    const std::string cls = d.write("cls.json", kClassifications);
    auto [rc, out] = run_cli("plot context --in " + abl + " --out " + d.file("c.png") +
                             " --logx --width 800 --height 600");
    INFO(out);
    CHECK(rc == 0);
    CHECK(png_info(d.file("c.png")).valid);
    CHECK(png_info(d.file("c.png")).width == 800);
    std::tie(rc, out) = run_cli("plot all --ablation " + abl + " --classifications " + cls +
                                " --stats " + d.file("absent.json") + " --out-dir " +
                                d.file("all") + " --format svg");
    CHECK(rc == 0);
    CHECK(out.find("wrote " + d.file("all/sink_importance.svg")) != std::string::npos);
    CHECK(out.find("skipped heatmap_entropy") != std::string::npos);
    CHECK(svg_valid(slurp(d.file("all/head_map.svg"))));

    // Errors: one line "headscope: error: ...", exit 1, no output written.
    const std::string empty = d.write("empty.json", "");
    for (const auto& [args, what] : std::vector<std::pair<std::string, std::string>>{
             {"plot context --in " + empty + " --out " + d.file("e.png"), "is empty"},
             {"plot bogus --in " + abl + " --out " + d.file("e.png"), "unknown plot kind"}}) {
      std::tie(rc, out) = run_cli(args);
      INFO(args << "\n" << out);
      CHECK(rc == 1);
      CHECK(out.rfind("headscope: error: ", 0) == 0);
      CHECK(out.find(what) != std::string::npos);
      CHECK(std::count(out.begin(), out.end(), '\n') == 1);
    }
    CHECK_FALSE(fs::exists(d.file("e.png")));
  }
}
