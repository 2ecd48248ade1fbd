// Every figure the given result files allow, written into one directory.
#include <filesystem>
#include <optional>

#include "common/error.h"
#include "viz/figures.h"

namespace headscope::viz {
namespace fs = std::filesystem;

namespace {

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  bool eq = fs::equivalent(a, b, ec);
  return !ec && eq;
}

// True when the ablation file names `classifications` as the classification file it used
// (as written, or relative to the ablation file's directory).
bool ablation_used(const AblationFile& f, const std::string& classifications) {
  if (f.classifications.empty() || classifications.empty()) return false;
  fs::path named(f.classifications);
  if (same_file(named, classifications)) return true;
  return named.is_relative() &&
         same_file(fs::path(f.path).parent_path() / named, classifications);
}

}  // namespace

PlotAllReport plot_all(const PlotAllInputs& in, const std::string& out_dir, const std::string& ext,
                       const PlotOptions& o) {
  require(ext == "png" || ext == "svg" || ext == "pdf",
          "figure format must be png, svg or pdf, not '" + ext + "'");
  require(!out_dir.empty(), "plot all needs an output directory");
  require(!in.ablation.empty() || !in.classifications.empty() || !in.stats.empty(),
          "plot all needs at least one of --ablation, --classifications, --stats");
  PlotAllReport rep;
  auto out = [&](const std::string& name) { return (fs::path(out_dir) / (name + "." + ext)).string(); };
  // A given input that does not exist skips its figures (with a note); empty = not given.
  auto available = [&](const std::string& path, const std::string& figures) {
    if (path.empty()) {
      rep.skipped.push_back(figures + ": no input given");
      return false;
    }
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      rep.skipped.push_back(figures + ": " + path + " not found");
      return false;
    }
    return true;
  };
  auto draw = [&](const std::string& name, const auto& fn) {
    const std::string p = out(name);
    fn(p);
    rep.written.push_back(p);
  };

  std::optional<AblationFile> ab;
  if (available(in.ablation, "ppl_vs_context, sink_importance, confidence_sweep")) {
    ab = read_ablation(in.ablation);
    draw("ppl_vs_context", [&](const std::string& p) { plot_context(*ab, p, o); });
    if (std::string why = why_no_sinks(*ab); why.empty())
      draw("sink_importance", [&](const std::string& p) { plot_sinks(*ab, p, o); });
    else
      rep.skipped.push_back("sink_importance: " + why);
    if (std::string why = why_no_confidence(*ab); why.empty())
      draw("confidence_sweep", [&](const std::string& p) { plot_confidence(*ab, p, o); });
    else
      rep.skipped.push_back("confidence_sweep: " + why);
  }
  // Head files written by the analyzer run that the ablation used share its model and text
  // (not its token count: the analysis may have read a different number of tokens).
  const bool borrow = ab && ablation_used(*ab, in.classifications);
  RunInfo borrowed;
  if (borrow) {
    borrowed = ab->info;
    borrowed.tokens = -1;
  }
  if (available(in.classifications, "head_map")) {
    HeadTypeGrid g = read_head_types(in.classifications);
    if (g.info.empty() && borrow) g.info = borrowed;
    draw("head_map", [&](const std::string& p) { plot_headmap(g, p, o); });
  }
  if (available(in.stats, "heatmap_entropy, heatmap_sink, heatmap_local, heatmap_relpos")) {
    HeadStatsGrid g = read_head_stats(in.stats);
    if (g.info.empty() && borrow &&
        same_file(fs::path(in.stats).parent_path().empty() ? "." : fs::path(in.stats).parent_path(),
                  fs::path(in.classifications).parent_path().empty()
                      ? "."
                      : fs::path(in.classifications).parent_path()))
      g.info = borrowed;
    for (HeatMetric m : {HeatMetric::Entropy, HeatMetric::Sink, HeatMetric::Local, HeatMetric::RelPos})
      draw("heatmap_" + heat_metric_name(m), [&](const std::string& p) { plot_heatmap(g, m, p, o); });
  }
  // (The message is built only on failure: skipped may be empty when everything was drawn.)
  if (rep.written.empty())
    throw Error("nothing to plot: " + (rep.skipped.empty() ? std::string("no figure applies") : rep.skipped.front()));
  return rep;
}

}  // namespace headscope::viz
