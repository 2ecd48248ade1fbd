// headscope plot: figures from result files (ablation.json, head_classifications.json,
// head_statistics.json) drawn with gnuplot; never runs a model.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "common/error.h"
#include "viz/figures.h"
#include "viz/gnuplot.h"

namespace headscope::cli {

namespace {
struct PlotArgs {
  std::string kind;
  std::string in, stats, ablation, classifications;
  std::string out, out_dir, format = "png", metric = "entropy";
  std::string cell_text = "auto", range;
  double threshold = 0.6;
  bool logx = false;
  int width = 1000, height = 700;
};

// The one input a single-figure kind reads: --in, or the kind-specific option.
std::string input_for(const PlotArgs& a, const std::string& specific, const char* specific_flag) {
  usage_require(a.in.empty() || specific.empty() || a.in == specific,
          std::string("give the input once: --in or ") + specific_flag);
  std::string p = a.in.empty() ? specific : a.in;
  usage_require(!p.empty(), "plot " + a.kind + " needs --in FILE (or " + specific_flag + " FILE)");
  return p;
}

void print_notes(const viz::AblationFile& f) {
  for (const auto& n : f.notes) std::fprintf(stderr, "note: %s: %s\n", f.path.c_str(), n.c_str());
}

void run_plot(const PlotArgs& a) {
  viz::PlotOptions o;
  o.logx = a.logx;
  o.width = a.width;
  o.height = a.height;
  o.cell_text = viz::parse_cell_text(a.cell_text);
  o.threshold = a.threshold;
  if (!a.range.empty()) viz::parse_range(a.range, o);
  if (a.kind == "all") {
    usage_require(a.out.empty(), "plot all writes several files: use --out-dir DIR (and --format)");
    usage_require(!a.out_dir.empty(), "plot all needs --out-dir DIR");
    viz::PlotAllInputs in;
    usage_require(a.in.empty() || a.ablation.empty() || a.in == a.ablation,
            "give the ablation file once: --in or --ablation");
    in.ablation = a.in.empty() ? a.ablation : a.in;
    in.classifications = a.classifications;
    in.stats = a.stats;
    viz::PlotAllReport r = viz::plot_all(in, a.out_dir, a.format, o);
    for (const auto& p : r.written) std::printf("wrote %s\n", p.c_str());
    for (const auto& s : r.skipped) std::printf("skipped %s\n", s.c_str());
    return;
  }
  usage_require(!a.out.empty(), "plot " + a.kind + " needs --out FILE.png|FILE.svg|FILE.pdf");
  usage_require(a.out_dir.empty(), "--out-dir is for 'plot all'; use --out FILE.png|FILE.svg|FILE.pdf");
  viz::format_for_path(a.out);
  if (a.kind == "context" || a.kind == "sinks" || a.kind == "confidence") {
    viz::AblationFile f = viz::read_ablation(input_for(a, a.ablation, "--ablation"));
    print_notes(f);
    if (a.kind == "context") viz::plot_context(f, a.out, o);
    if (a.kind == "sinks") viz::plot_sinks(f, a.out, o);
    if (a.kind == "confidence") viz::plot_confidence(f, a.out, o);
  } else if (a.kind == "headmap") {
    viz::plot_headmap(viz::read_head_types(input_for(a, a.classifications, "--classifications")),
                      a.out, o);
  } else if (a.kind == "heatmap") {
    viz::HeatMetric m = viz::parse_heat_metric(a.metric);
    viz::plot_heatmap(viz::read_head_stats(input_for(a, a.stats, "--stats")), m, a.out, o);
  } else {
    throw Error("unknown plot kind '" + a.kind +
                "' (expected context, sinks, confidence, headmap, heatmap or all)");
  }
  std::printf("wrote %s\n", a.out.c_str());
}
}  // namespace

void register_plot(CLI::App& app) {
  auto a = std::make_shared<PlotArgs>();
  CLI::App* sub = app.add_subcommand(
      "plot", "draw figures (PNG/SVG/PDF, with gnuplot) from ablation and analysis result files");
  sub->add_option("kind", a->kind,
                  "context | sinks | confidence (ablation.json), headmap "
                  "(head_classifications.json), heatmap (head_statistics.json), all")
      ->required();
  sub->add_option("--in", a->in, "input result file of the figure");
  sub->add_option("--ablation", a->ablation, "ablation.json (context, sinks, confidence, all)");
  sub->add_option("--classifications", a->classifications, "head_classifications.json (headmap, all)");
  sub->add_option("--stats", a->stats, "head_statistics.json (heatmap, all)");
  sub->add_option("--out", a->out, "output image; the format follows the extension (.png, .svg or .pdf)");
  sub->add_option("--out-dir", a->out_dir, "output directory (plot all)");
  sub->add_option("--format", a->format, "image format for plot all: png, svg or pdf")
      ->check(CLI::IsMember({"png", "svg", "pdf"}));
  sub->add_option("--metric", a->metric, "heatmap metric: entropy, sink, local or relpos")
      ->check(CLI::IsMember({"entropy", "sink", "local", "relpos"}));
  sub->add_flag("--log-x,--logx", a->logx,
                "context figure: logarithmic (log2) context axis; linear by default");
  sub->add_option("--cell-text", a->cell_text,
                  "head map cell text besides the type tag: confidence, stability, "
                  "threshold-value (confidence, + at or above --threshold), none, auto "
                  "(stability when present)")
      ->check(CLI::IsMember({"auto", "confidence", "stability", "threshold-value", "none"}));
  sub->add_option("--threshold", a->threshold,
                  "head map, --cell-text threshold-value: the confidence builder's threshold")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("--range", a->range,
                  "heatmaps: colour range LO:HI instead of the data's own range");
  sub->add_option("--width", a->width, "figure width in pixels")->check(CLI::Range(300, 8000));
  sub->add_option("--height", a->height, "figure height in pixels")->check(CLI::Range(200, 8000));
  sub->callback([a]() { run_plot(*a); });
}

}  // namespace headscope::cli
