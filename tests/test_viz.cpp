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
#include "viz/style.h"

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

// `extra`: more top-level members (", \"groups\": [...]"), inserted before "results".
std::string ablation_json(const std::string& results, const std::string& extra = "") {
  return "{\"schema\": \"headscope.ablation/1\", \"model\": \"models/neox-gutenberg-14m\", "
         "\"text\": \"data/pg19-10146.txt\", \"tokens\": 1000, "
         "\"dense\": {\"perplexity\": 70.1, \"accuracy\": 0.31}, "
         "\"classifications\": \"results/default/head_classifications.json\"" + extra +
         ", \"results\": [" + results + "]}";
}

// A, B at 64 and 128, a lone B at 256, G at two base windows (three thresholds each), one I,
// one J, one K and a user group. Head-aware front by hand: G_64_t0.3 (ctx 70, 95),
// G_64_t0.5 (ctx 80, 90), G_128_t0.3 (ctx 130, 80), K_best (ctx 140, 75); dominated:
// G_64_t0.7 (ctx 90, 99), G_128_t0.5 (ctx 150, 85), G_128_t0.7 (ctx 160, 82), I_types (ctx 135, 81),
// J_types (ctx 200, 76). B (log-context interpolation of (61, 100), (121.4, 78.6), (240, 72)) at
// those contexts: 95.72, 91.57, 77.94, 77.22, so PPL/B = 0.9925, 0.983, 1.026, 0.971. Ranked:
// K_best, G_64_t0.5, then G_64_t0.3 (context within 1.3x of G_64_t0.5's) and G_128_t0.3 (within
// 1.3x of K_best's) are left unlabelled.
// The group list `headscope ablate` writes (user_probe is not in it: only in the results).
const char* kGroupList =
    ", \"reference_group\": \"B\", \"groups\": [{\"id\": \"A\", \"title\": \"window only\"}, "
    "{\"id\": \"B\", \"title\": \"StreamingLLM (sink + window)\"}, {\"id\": \"G\", \"title\": "
    "\"confidence sweep\"}, {\"id\": \"I\", \"title\": \"inverse: large positional windows\"}, "
    "{\"id\": \"J\", \"title\": \"small gathering windows\"}, {\"id\": \"K\", \"title\": "
    "\"uniform-like, type-aware\"}]";

std::string full_ablation(const std::string& extra = kGroupList) {
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
      res("my_probe", "user_probe", 88, 96, 96, "{}"), extra);
}

// The SVG colour gnuplot writes for "#rrggbb": "rgb(%3d, %3d, %3d)".
std::string svg_rgb(const std::string& hex) {
  Rgb c = parse_rgb(hex);
  char buf[32];
  std::snprintf(buf, sizeof buf, "rgb(%3d, %3d, %3d)", c.r, c.g, c.b);
  return buf;
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
    CHECK(svg.find("B: StreamingLLM (sink + window) (3)") != std::string::npos);
    CHECK(svg.find("I: inverse: large positional windows (1)") != std::string::npos);
    CHECK(svg.find("J: small gathering windows (1)") != std::string::npos);
    CHECK(svg.find("from_classifications") == std::string::npos);
    CHECK(svg.find("user_probe") != std::string::npos);
    CHECK(svg.find("dense, full context (PPL 70.10)") != std::string::npos);
    for (const char* on : {"G_64_t0.5 (90.0)", "K_best (75.0)"})
      CHECK_MESSAGE(svg.find(on) != std::string::npos, on);
    for (const char* off : {"G_64_t0.3 (", "G_128_t0.3 (", "G_64_t0.7 (", "G_128_t0.5 (",
                            "G_128_t0.7 (", "I_types (", "J_types (", "B_streaming_128 (", "my_probe ("})
      CHECK_MESSAGE(svg.find(off) == std::string::npos, off);
  }

  TEST_CASE("context figure: user-defined groups, their titles and colours, another reference group") {
    TempDir d;
    // No A/B/G letters at all: the baseline is "base" (reference_group), colours come from the
    // group list (one explicit, the others by list position), titles label the groups.
    const std::string u = "{\"builder\": \"uniform\", \"sink\": 4, \"window\": ";
    const std::string c = "{\"builder\": \"confidence\", \"threshold\": 0.5, \"base_window\": ";
    const std::string file = ablation_json(
        res("base_64", "base", 100, 64, 60, u + "60}") + "," +
        res("base_128", "base", 80, 128, 120, u + "124}") + "," +
        res("base_256", "base", 72, 256, 240, u + "252}") + "," +
        res("probe_a", "probe", 78, 128, 110, c + "64}") + "," +
        res("probe_b", "probe", 90, 64, 70, c + "32}") + "," +
        res("wide_1", "wide", 74, 256, 230, c + "128}"),
        ", \"reference_group\": \"base\", \"groups\": [{\"id\": \"wide\", \"title\": \"wide "
        "windows\"}, {\"id\": \"base\", \"title\": \"my baseline\", \"colour\": \"#123456\"}, "
        "{\"id\": \"probe\", \"title\": \"user probe title\"}, {\"id\": \"unused\", \"title\": \"x\"}]");
    AblationFile f = read_ablation(d.write("user.json", file));
    REQUIRE(f.groups.size() == 3);  // "unused" has no results
    CHECK(f.groups[0].id == "wide");
    CHECK(f.reference_group == "base");
    CHECK(group_colour(f, "base") == "#123456");
    CHECK(group_colour(f, "wide") != group_colour(f, "probe"));
    CHECK(group_label(f, "probe") == "probe: user probe title");
    plot_context(f, d.file("user.svg"));
    std::string svg = check_svg(d.file("user.svg"));
    CHECK(svg.find("probe: user probe title (2)") != std::string::npos);
    CHECK(svg.find("base: my baseline (3)") != std::string::npos);
    CHECK(svg.find("wide: wide windows (1)") != std::string::npos);
    CHECK(svg.find(svg_rgb("#123456")) != std::string::npos);
    CHECK(svg.find(svg_rgb(group_colour(f, "probe"))) != std::string::npos);
    // Best head-aware labels are ranked against the reference group "base".
    CHECK(svg.find("probe_a (78.0)") != std::string::npos);
    // Confidence sweep and sink figures take the groups by builder, not by letter.
    CHECK(why_no_confidence(f).empty());
    plot_confidence(f, d.file("conf.svg"));
    std::string conf = check_svg(d.file("conf.svg"));
    CHECK(conf.find("probe, base window 64") != std::string::npos);
    CHECK(conf.find("base: base_") != std::string::npos);
    CHECK(why_no_sinks(f).find("window-only") != std::string::npos);
    // A bad colour in the group list is a one-line error.
    std::string bad = file;
    bad.replace(bad.find("#123456"), 7, "blue");
    CHECK_THROWS_WITH_AS(read_ablation(d.write("bad.json", bad)),
                         doctest::Contains("colour must be \"#rrggbb\""), Error);
  }

  TEST_CASE("context figure: linear axes by default, outliers clipped with a note") {
    TempDir d;
    const std::string u = "{\"builder\": \"uniform\", \"sink\": 4, \"window\": ";
    std::string rs;
    const double ppl[] = {80, 78, 77, 76.5, 76, 75.5, 355, 410};
    for (int i = 0; i < 8; ++i)
      rs += std::string(i ? "," : "") +
            res("B_" + std::to_string(i), "B", ppl[i], 32.0 * (i + 1), 30.0 * (i + 1), u + "28}");
    AblationFile f = read_ablation(d.write("out.json", ablation_json(rs)));
    plot_context(f, d.file("out.svg"));
    std::string svg = check_svg(d.file("out.svg"));
    CHECK(svg.find("2 outlier(s) clipped") != std::string::npos);
    CHECK(svg.find("B_7 410.0, B_6 355.0") != std::string::npos);
    CHECK(svg.find("log scale") == std::string::npos);
    // The y axis ends near the largest kept value, not at 410.
    CHECK(svg.find("<text>400</text>") == std::string::npos);
    CHECK(svg.find("B: sink + window (8)") != std::string::npos);  // no title: from params
    // Group A's 400 and 300 are more than twice the median of full_ablation's results.
    plot_context(read_ablation(d.write("full.json", full_ablation())), d.file("full.svg"));
    CHECK(slurp(d.file("full.svg")).find("2 outlier(s) clipped") != std::string::npos);
    CHECK(slurp(d.file("full.svg")).find("A_window_64 400.0, A_window_128 300.0") != std::string::npos);
    // Fewer than 4 results: nothing is called an outlier.
    plot_context(read_ablation(d.write("few.json", ablation_json(
                     res("a", "B", 80, 64, 60, u + "60}") + "," + res("b", "B", 400, 128, 120, u + "124}")))),
                 d.file("few.svg"));
    CHECK(slurp(d.file("few.svg")).find("clipped") == std::string::npos);
    PlotOptions lo;
    lo.logx = true;
    plot_context(f, d.file("outlog.svg"), lo);
    CHECK(slurp(d.file("outlog.svg")).find("log scale") != std::string::npos);
  }

  TEST_CASE("PDF output beside PNG and SVG, checked complete") {
    TempDir d;
    AblationFile f = read_ablation(d.write("ablation.json", full_ablation()));
    plot_context(f, d.file("ctx.pdf"));
    const std::string pdf = slurp(d.file("ctx.pdf"));
    CHECK(pdf.rfind("%PDF-", 0) == 0);
    CHECK(pdf.find("%%EOF") != std::string::npos);
    CHECK(pdf.size() > 5000);
    CHECK(image_is_complete(pdf, ImageFormat::Pdf));
    CHECK_FALSE(image_is_complete(pdf.substr(0, pdf.size() / 2), ImageFormat::Pdf));
    CHECK_FALSE(image_is_complete("<svg></svg>", ImageFormat::Pdf));
    CHECK(format_for_path("X.PDF") == ImageFormat::Pdf);
    PlotAllInputs in;
    in.ablation = d.file("ablation.json");
    in.classifications = d.write("cls.json", kClassifications);
    in.stats = d.write("stats.json", full_stats());
    PlotAllReport r = plot_all(in, d.file("pdfs"), "pdf");
    CHECK(r.written.size() == 8);
    for (const auto& p : r.written) CHECK_MESSAGE(image_is_complete(slurp(p), ImageFormat::Pdf), p);
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
    // Full stability: the type's Okabe-Ito colour itself (gathering: vermillion); zero: a pale tint.
    CHECK(svg.find(svg_rgb("#D55E00")) != std::string::npos);
    CHECK(head_type_colour("gathering", 0) == "#D55E00");
    // The type also as a tag in each cell, so it reads without colour.
    CHECK(svg.find("<text>TP</text>") != std::string::npos);
    CHECK(svg.find("<text>SP</text>") != std::string::npos);
    CHECK(svg.find("G gathering (2)") != std::string::npos);
    CHECK(svg.find("<text>0.25</text>") != std::string::npos);  // stability of 1.1 in the cell
    // Selectable cell text: confidence, or the value the confidence builder thresholds on.
    PlotOptions conf;
    conf.cell_text = parse_cell_text("confidence");
    plot_headmap(g, d.file("conf.svg"), conf);
    std::string cs = check_svg(d.file("conf.svg"));
    CHECK(cs.find("<text>0.50</text>") != std::string::npos);  // confidence of 1.1
    CHECK(cs.find("<text>0.25</text>") == std::string::npos);
    PlotOptions thr;
    thr.cell_text = parse_cell_text("threshold-value");
    thr.threshold = 0.6;
    plot_headmap(g, d.file("thr.svg"), thr);
    std::string ts = check_svg(d.file("thr.svg"));
    CHECK(ts.find("<text>0.90+</text>") != std::string::npos);
    CHECK(ts.find("<text>0.60+</text>") != std::string::npos);
    CHECK(ts.find("<text>0.50</text>") != std::string::npos);
    CHECK(ts.find("threshold 0.6)") != std::string::npos);
    CHECK_THROWS_AS(parse_cell_text("entropy"), Error);
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
    PlotOptions stab;
    stab.cell_text = CellText::Stability;
    CHECK_THROWS_WITH_AS(plot_headmap(g2, d.file("nostab.svg"), stab),
                         doctest::Contains("needs a \"stability\""), Error);
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

  TEST_CASE("heatmaps: --range LO:HI fixes the colour scale") {
    TempDir d;
    HeadStatsGrid g = read_head_stats(d.write("stats.json", full_stats()));
    // Sink ratios are 0.1..0.3: auto range ends at 0.3, a fixed 0:1 range has 0.8 on the scale.
    plot_heatmap(g, HeatMetric::Sink, d.file("auto.svg"));
    std::string a = check_svg(d.file("auto.svg"));
    CHECK(a.find("<text> 0.8</text>") == std::string::npos);
    CHECK(a.find("range fixed") == std::string::npos);
    PlotOptions o;
    parse_range("0:1", o);
    CHECK(o.range_lo == 0);
    CHECK(o.range_hi == 1);
    plot_heatmap(g, HeatMetric::Sink, d.file("fixed.svg"), o);
    std::string fx = check_svg(d.file("fixed.svg"));
    CHECK(fx.find("<text> 0.8</text>") != std::string::npos);
    CHECK(fx.find("[range fixed 0:1]") != std::string::npos);
    // A value outside the range keeps its true value in the cell text.
    PlotOptions narrow;
    parse_range("0:0.2", narrow);
    plot_heatmap(g, HeatMetric::Sink, d.file("narrow.svg"), narrow);
    CHECK(check_svg(d.file("narrow.svg")).find("<text>0.3</text>") != std::string::npos);
    PlotOptions rp;
    parse_range("1e-3:0.5", rp);
    plot_heatmap(g, HeatMetric::RelPos, d.file("relpos.svg"), rp);
    CHECK(check_svg(d.file("relpos.svg")).find("[range fixed 0.001:0.5]") != std::string::npos);
    PlotOptions zero;
    parse_range("0:0.5", zero);
    CHECK_THROWS_AS(plot_heatmap(g, HeatMetric::RelPos, d.file("z.svg"), zero), Error);
    for (const char* bad : {"1", "a:b", "1:1", "2:1", ":1", "0:nan"}) {
      PlotOptions x;
      CHECK_THROWS_AS(parse_range(bad, x), Error);
    }
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
    CHECK(m.find("must end in .png, .svg or .pdf") != std::string::npos);
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
                             " --log-x --width 800 --height 600");
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
    std::tie(rc, out) = run_cli("plot headmap --in " + cls + " --cell-text threshold-value --threshold 0.7 --out " +
                                d.file("thr.svg"));
    CHECK(rc == 0);
    CHECK(slurp(d.file("thr.svg")).find("<text>0.80+</text>") != std::string::npos);
    CHECK(slurp(d.file("thr.svg")).find("<text>0.60</text>") != std::string::npos);

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
