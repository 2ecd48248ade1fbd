// The figures headscope draws from result files (never running a model). Each function renders
// one figure to a .png or .svg file (chosen by extension) through gnuplot, atomically, and throws
// Error (one line) on unusable input or when gnuplot is missing or fails.
#pragma once
#include <string>
#include <vector>

#include "viz/ablation_file.h"
#include "viz/head_files.h"

namespace headscope::viz {

struct PlotOptions {
  bool logx = false;  // context figure: logarithmic x axis
  int width = 1000;   // pixels
  int height = 700;   // pixels (the relative-position heatmap grows with the head count)
};

// Perplexity versus measured effective context: one marker/colour per group, group B
// (StreamingLLM) as a connected baseline, dense perplexity as a horizontal line, and labels on
// the best head-aware results (groups G, I, J, K): of those that no other head-aware result
// beats with an equal or smaller context, the (at most 5) lowest relative to StreamingLLM at the
// same context, at clearly different contexts.
void plot_context(const AblationFile& f, const std::string& out, const PlotOptions& o = {});

// Sink importance: group A (window only) next to group B (sink + window) at equal nominal
// context, as grouped bars. why_no_sinks says why the figure cannot be drawn ("" if it can).
std::string why_no_sinks(const AblationFile& f);
void plot_sinks(const AblationFile& f, const std::string& out, const PlotOptions& o = {});

// Confidence sweep (group G): perplexity against params.threshold, one line per
// params.base_window, with group B's perplexity at the matching context as horizontal lines.
std::string why_no_confidence(const AblationFile& f);
void plot_confidence(const AblationFile& f, const std::string& out, const PlotOptions& o = {});

// Head map: layers x heads grid coloured by head type (fixed colour per type, legend with
// counts), shaded by stability, or by confidence when the file has no stability.
void plot_headmap(const HeadTypeGrid& g, const std::string& out, const PlotOptions& o = {});

enum class HeatMetric { Entropy, Sink, Local, RelPos };
// "entropy" | "sink" | "local" | "relpos"; throws Error otherwise.
HeatMetric parse_heat_metric(const std::string& name);
std::string heat_metric_name(HeatMetric m);
// Layers x heads heatmap of mean entropy, sink ratio or local ratio; or (RelPos) the
// relative-position profile: one row per layer.head, one column per distance.
void plot_heatmap(const HeadStatsGrid& g, HeatMetric m, const std::string& out,
                  const PlotOptions& o = {});

// Every figure that the given inputs allow, into out_dir as <figure>.<ext> (ext "png" or "svg").
// Empty paths mean "not given"; a given path that does not exist is reported as skipped; a file
// that exists but is malformed throws Error.
struct PlotAllInputs {
  std::string ablation, classifications, stats;
};
struct PlotAllReport {
  std::vector<std::string> written;  // output paths
  std::vector<std::string> skipped;  // "figure: reason"
};
PlotAllReport plot_all(const PlotAllInputs& in, const std::string& out_dir, const std::string& ext,
                       const PlotOptions& o = {});

}  // namespace headscope::viz
