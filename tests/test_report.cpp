// headscope report: the self-contained HTML page from a run directory (hand-made files and the
// committed results/main-job run), its sections, and one-line errors. The page is loaded in a
// real headless browser by the report_browser suite.
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
#include "headaware/ablation_runner.h"
#include "viz/report_html.h"
#include "viz/style.h"

using namespace headscope;
using headscope::viz::build_report;
using headscope::viz::base64;
using headscope::viz::html_escape;
using headscope::viz::Report;
using headscope::viz::ReportOptions;
using headscope::viz::write_report;
using headscope::test::slurp;
using headscope::test::TempDir;
namespace fs = std::filesystem;

namespace {

const char* kCls = R"({"classifications": [
 {"layer_idx": 0, "head_idx": 0, "head_type": "gathering", "confidence": 0.9, "stability": 1.0},
 {"layer_idx": 0, "head_idx": 1, "head_type": "sink_positional", "confidence": 0.6, "stability": 0.5},
 {"layer_idx": 1, "head_idx": 0, "head_type": "my_custom_type", "confidence": 0.7, "stability": 0.75},
 {"layer_idx": 1, "head_idx": 1, "head_type": "true_positional", "confidence": 0.8, "stability": 0.9}
], "summary": {"total_heads": 4}, "provenance": {"model": "models/tiny-<b>", "date": "2026-12-02T10:00:00Z", "options": {"chunk_size": 128}}})";

std::string stats_head(int l, int h) {
  std::string rp;
  for (int d = 0; d < 16; ++d) rp += (d ? "," : "") + std::to_string(0.5 / (1.0 + d * (h + 1)));
  return "{\"layer_idx\": " + std::to_string(l) + ", \"head_idx\": " + std::to_string(h) +
         ", \"mean_entropy\": " + std::to_string(1.5 + l + h) +
         ", \"std_entropy\": 0.1, \"sink_ratio\": 0.2, \"position_preference\": {\"sink\": 0.2, "
         "\"recent\": 0.1, \"local\": 0.4, \"global\": 0.3}, \"uniformity_score\": 1.0, "
         "\"relative_position_dist\": [" + rp + "]}";
}

std::string stats_json() {
  return "{\"model_info\": {\"num_layers\": 2, \"num_heads\": 2, \"sink_size\": 4, \"local_window\": 8}, "
         "\"head_statistics\": [" + stats_head(0, 0) + "," + stats_head(0, 1) + "," +
         stats_head(1, 0) + "," + stats_head(1, 1) + "]}";
}

std::string ablation_json() {
  auto res = [](const std::string& name, const std::string& group, double ppl, double ctx,
                const std::string& params) {
    return "{\"name\": \"" + name + "\", \"group\": \"" + group + "\", \"perplexity\": " +
           std::to_string(ppl) + ", \"accuracy\": 0.3, \"nominal_context\": " + std::to_string(ctx) +
           ", \"measured_context\": " + std::to_string(ctx) + ", \"tokens_per_s\": 5000.0, "
           "\"params\": " + params + "}";
  };
  return "{\"schema\": \"headscope.ablation/1\", \"model\": \"models/tiny\", \"text\": \"t.txt\", "
         "\"tokens\": 128, \"dense\": {\"perplexity\": 70.1, \"accuracy\": 0.31}, "
         "\"reference_group\": \"base\", \"groups\": [{\"id\": \"base\", \"title\": \"sink + window baseline\"}, "
         "{\"id\": \"mine\", \"title\": \"my user group\"}], \"results\": [" +
         res("base_32", "base", 90, 32, "{\"builder\": \"uniform\", \"sink\": 4, \"window\": 28}") + "," +
         res("base_64", "base", 80, 64, "{\"builder\": \"uniform\", \"sink\": 4, \"window\": 60}") + "," +
         res("mine_1", "mine", 77.5, 50, "{\"builder\": \"from_classifications\"}") + "]}";
}

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

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_SUITE("report") {
  TEST_CASE("the ablation file records the plan's groups and reference group; figures read them") {
    TempDir d;
    const AblationPlan plan = parse_ablation_plan(
        "reference_group = \"base\"\n"
        "[[group]]\nid = \"base\"\ntitle = \"my sink + window baseline\"\nbuilder = \"uniform\"\n"
        "sink = 4\nconfigs = [{ name = \"base_64\", window = 60 }]\n"
        "[[group]]\nid = \"X\"\ntitle = \"user group X\"\nbuilder = \"uniform\"\nsink = 0\n"
        "configs = [{ name = \"x_64\", window = 64 }]\n",
        "plan.toml");
    AblationFile file;
    file.id.model = "m";
    file.id.text = "t";
    file.id.tokens = 10;
    file.record_plan(plan);
    file.record_plan(plan);  // a resumed run lists each group once
    for (const char* name : {"base_64", "x_64"}) {
      AblationRecord r;
      r.name = name;
      r.group = name[0] == 'b' ? "base" : "X";
      r.perplexity = 80;
      r.measured_context = 60;
      r.params = {{"builder", "uniform"}, {"sink", r.group == "base" ? 4 : 0}, {"window", 60}};
      file.results.push_back(r);
    }
    file.save(d.file("abl.json"));
    viz::AblationFile f = viz::read_ablation(d.file("abl.json"));
    REQUIRE(f.groups.size() == 2);
    CHECK(f.groups[0].id == "base");
    CHECK(f.groups[0].title == "my sink + window baseline");
    CHECK(f.reference_group == "base");
    CHECK(viz::group_label(f, "X") == "X: user group X");
    // Reloaded by the runner (resume), the list survives.
    AblationFile again = AblationFile::load(d.file("abl.json"));
    CHECK(again.groups.size() == 2);
    CHECK(again.reference_group == "base");
  }

  TEST_CASE("html escaping and base64") {
    CHECK(html_escape("a<b>&\"'") == "a&lt;b&gt;&amp;&quot;&#39;");
    CHECK(base64("") == "");
    CHECK(base64("f") == "Zg==");
    CHECK(base64("fo") == "Zm8=");
    CHECK(base64("foo") == "Zm9v");
    CHECK(base64(std::string("\xff\x00\x80", 3)) == "/wCA");
  }

  TEST_CASE("report of a run directory: provenance, tables, figures, explorer data, self-contained") {
    TempDir d;
    fs::create_directories(d.file("run"));
    d.write("run/head_classifications.json", kCls);
    d.write("run/head_statistics.json", stats_json());
    d.write("run/ablation.json", ablation_json());
    d.write("run/eval_dense.json",
            R"({"method": "dense", "perplexity": 70.1, "accuracy": 0.31, "tokens": 128, "wall_s": 0.5})");
    d.write("run/broken.json", "{\"x\": ");
    Report r = write_report(d.file("run"), d.file("out/report.html"));
    const std::string h = slurp(d.file("out/report.html"));
    CHECK(h == r.html);
    CHECK(h.rfind("<!DOCTYPE html>", 0) == 0);
    // Provenance: the block's keys, escaped.
    CHECK(h.find("<td>model</td><td>models/tiny-&lt;b&gt;</td>") != std::string::npos);
    CHECK(h.find("<td>options.chunk_size</td><td>128</td>") != std::string::npos);
    CHECK(h.find("<td>date</td><td>2026-12-02T10:00:00Z</td>") != std::string::npos);
    CHECK(h.find("<td>model_info.sink_size</td><td>4</td>") != std::string::npos);
    // Tables: eval results and the ablation table with group titles.
    CHECK(h.find("id=\"eval-table\"") != std::string::npos);
    CHECK(h.find("<td>eval_dense.json</td>") != std::string::npos);
    CHECK(h.find("mine: my user group") != std::string::npos);
    CHECK(h.find("base: sink + window baseline") != std::string::npos);
    CHECK(h.find("<td class=\"n\">77.500</td>") != std::string::npos);
    // Figures inlined as SVG data URIs (every figure the files allow but the sink pair).
    CHECK(count(h, "src=\"data:image/svg+xml;base64,") == 6);
    CHECK(h.find("id=\"fig-ppl_vs_context\"") != std::string::npos);
    CHECK(h.find("id=\"fig-head_map\"") != std::string::npos);
    CHECK(h.find("id=\"fig-heatmap_relpos\"") != std::string::npos);
    // The malformed file and the skipped figure are noted, not fatal.
    CHECK(h.find("left out broken.json") != std::string::npos);
    CHECK(h.find("figure skipped: sink_importance") != std::string::npos);
    // Explorer: the data island with every head, the type legend (custom type tagged MY).
    CHECK(h.find("id=\"hs-data\"") != std::string::npos);
    CHECK(h.find("\"1.0\":{\"cls\":{\"confidence\":0.7") != std::string::npos);
    CHECK(h.find("MY my_custom_type (1)") != std::string::npos);
    CHECK(h.find("\"relpos\":[0.5,") != std::string::npos);
    // Self-contained: nothing to fetch.
    CHECK(h.find("http://") == std::string::npos);
    CHECK(h.find("https://") == std::string::npos);
    CHECK(h.find("<link") == std::string::npos);
    CHECK(h.find("@import") == std::string::npos);
    CHECK(count(h, "<script") == 2);
    for (const auto& e : fs::directory_iterator(d.file("out")))
      CHECK_MESSAGE(e.path().filename() == "report.html", e.path());

    // Without figures (no gnuplot needed), and from statistics alone.
    fs::create_directories(d.file("stats_only"));
    d.write("stats_only/head_statistics.json", stats_json());
    ReportOptions nofig;
    nofig.figures = false;
    Report s = build_report(d.file("stats_only"), nofig);
    CHECK(s.html.find("data:image") == std::string::npos);
    CHECK(s.html.find("\"0.1\":{\"relpos\"") != std::string::npos);

    // Without gnuplot the page is still written, the figures listed as left out.
    const char* old = std::getenv("HEADSCOPE_GNUPLOT");
    const std::string saved = old ? old : "";
    ::setenv("HEADSCOPE_GNUPLOT", d.file("no-gnuplot").c_str(), 1);
    Report ng = build_report(d.file("run"));
    if (old) ::setenv("HEADSCOPE_GNUPLOT", saved.c_str(), 1);
    else ::unsetenv("HEADSCOPE_GNUPLOT");
    CHECK(ng.html.find("data:image") == std::string::npos);
    CHECK(ng.html.find("Figures left out: HEADSCOPE_GNUPLOT=") != std::string::npos);
    CHECK(ng.html.find("id=\"hs-data\"") != std::string::npos);
  }

  TEST_CASE("report: bad directories give one-line errors") {
    TempDir d;
    auto msg = [](auto&& fn) -> std::string {
      try {
        fn();
      } catch (const Error& e) {
        return e.what();
      }
      return "";
    };
    fs::create_directories(d.file("empty"));
    d.write("empty/eval.json", R"({"perplexity": 3})");
    std::string m = msg([&] { build_report(d.file("empty")); });
    CHECK(m.find("has no analysis files") != std::string::npos);
    CHECK(m.find('\n') == std::string::npos);
    m = msg([&] { build_report(d.file("absent")); });
    CHECK(m.find("is not a directory") != std::string::npos);
    fs::create_directories(d.file("bad"));
    d.write("bad/head_classifications.json", "{\"classifications\": []}");
    m = msg([&] { build_report(d.file("bad")); });
    CHECK(m.find("\"classifications\" is empty") != std::string::npos);
    // Mismatched grids.
    fs::create_directories(d.file("mismatch"));
    d.write("mismatch/head_classifications.json", kCls);
    d.write("mismatch/head_statistics.json",
            "{\"model_info\": {\"num_layers\": 1, \"num_heads\": 4}, \"head_statistics\": [" +
                stats_head(0, 0) + "," + stats_head(0, 1) + "," + stats_head(0, 2) + "," +
                stats_head(0, 3) + "]}");
    m = msg([&] { build_report(d.file("mismatch")); });
    CHECK(m.find("head_statistics.json 1 x 4") != std::string::npos);
  }

  TEST_CASE("headscope report on results/main-job and its errors") {
    TempDir d;
    auto [rc, out] = run_cli("report " + test::repo("results/main-job") + " --out " +
                             d.file("r.html"));
    INFO(out);
    CHECK(rc == 0);
    CHECK(out.find("wrote " + d.file("r.html")) != std::string::npos);
    const std::string h = slurp(d.file("r.html"));
    CHECK(count(h, "src=\"data:image/svg+xml;base64,") == 8);
    CHECK(h.find("id=\"ablation-table\"") != std::string::npos);
    CHECK(h.find("<td>eval_dense.json</td>") != std::string::npos);
    fs::create_directories(d.file("none"));
    std::tie(rc, out) = run_cli("report " + d.file("none") + " --out " + d.file("x.html"));
    CHECK(rc == 1);
    CHECK(out.rfind("headscope: error: ", 0) == 0);
    CHECK(out.find("has no analysis files") != std::string::npos);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
    CHECK_FALSE(fs::exists(d.file("x.html")));
  }
}
