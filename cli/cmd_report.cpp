// headscope report: one self-contained HTML page (provenance, tables, figures, head explorer)
// from a run directory's result files; never runs a model.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "common/error.h"
#include "viz/report_html.h"

namespace headscope::cli {

namespace {
struct ReportArgs {
  std::string dir, out;
  bool no_figures = false;
  int width = 1000, height = 700;
};

void run_report(const ReportArgs& a) {
  viz::ReportOptions o;
  o.figures = !a.no_figures;
  o.plot.width = a.width;
  o.plot.height = a.height;
  const std::string out =
      a.out.empty() ? (std::filesystem::path(a.dir) / "report.html").string() : a.out;
  viz::Report r = viz::write_report(a.dir, out, o);
  for (const auto& n : r.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  std::printf("wrote %s (%zu bytes, self-contained)\n", out.c_str(), r.html.size());
}
}  // namespace

void register_report(CLI::App& app) {
  auto a = std::make_shared<ReportArgs>();
  CLI::App* sub = app.add_subcommand(
      "report", "one self-contained HTML report of a run directory: provenance, tables, figures "
                "and an interactive head explorer");
  sub->add_option("dir", a->dir,
                  "run directory (head_classifications.json and/or head_statistics.json; "
                  "ablation and eval JSON files are used when present)")
      ->required();
  sub->add_option("--out", a->out, "the HTML file to write (default DIR/report.html)");
  sub->add_flag("--no-figures", a->no_figures, "leave the figures out (no gnuplot run)");
  sub->add_option("--width", a->width, "figure width in pixels")->check(CLI::Range(300, 8000));
  sub->add_option("--height", a->height, "figure height in pixels")->check(CLI::Range(200, 8000));
  sub->callback([a]() { run_report(*a); });
}

}  // namespace headscope::cli
