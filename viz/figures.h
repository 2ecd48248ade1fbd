// The figures headscope draws from result files (never running a model). Each function renders
// one figure to a .png, .svg or .pdf file (chosen by extension) through gnuplot, atomically, and throws
// Error (one line) on unusable input or when gnuplot is missing or fails.
#pragma once
#include <limits>
#include <string>
#include <vector>

#include "viz/ablation_file.h"
#include "viz/head_files.h"

namespace headscope::viz {

// What the head map writes in each cell besides the type tag: Auto = stability when every head
// has it, else confidence; ThresholdValue = the value the confidence builder (ablation group
// "confidence") compares with its threshold, i.e. the confidence, marked "+" at or above
// PlotOptions::threshold; None = the type tag only.
enum class CellText { Auto, Confidence, Stability, ThresholdValue, None };
// "confidence" | "stability" | "threshold-value" | "none" | "auto"; throws Error otherwise.
CellText parse_cell_text(const std::string& name);

struct PlotOptions {
  bool logx = false;  // context figure: logarithmic x axis
  int width = 1000;   // pixels (PDF: width/100 inches)
  int height = 700;   // pixels (the relative-position heatmap grows with the head count)
  CellText cell_text = CellText::Auto;  // head map
  double threshold = 0.6;               // head map, CellText::ThresholdValue
  // Heatmaps: fixed colour range; NaN = the data's own range. Values outside are drawn in the
  // end colour of the scale (the cell text keeps the true value).
  double range_lo = std::numeric_limits<double>::quiet_NaN();
  double range_hi = std::numeric_limits<double>::quiet_NaN();
};

// Parses "LO:HI" (two finite numbers, LO < HI) into o.range_lo/range_hi; throws Error otherwise.
void parse_range(const std::string& text, PlotOptions& o);

// Perplexity versus measured effective context on linear axes (log2 x with o.logx): one
// marker/colour per group of the file's group list, labelled "<id>: <title>", the file's
// reference group (StreamingLLM) as a connected baseline, dense perplexity as a horizontal line,
// and labels on the best head-aware results (any builder but uniform): of those that no other
// head-aware result beats with an equal or smaller context, the (at most 5) lowest relative to
// the reference group at the same context, at clearly different contexts. Outliers (perplexity
// above twice the median, with at least 4 results) are clipped: drawn as triangles on a band at
// the top edge and named with their values in a note. The legend sits below the plot, so it hides no point.
void plot_context(const AblationFile& f, const std::string& out, const PlotOptions& o = {});

// Sink importance: the window-only group (the first group whose results are all uniform without
// sink tokens) next to the reference group (sink + window) at equal nominal context, as bars. why_no_sinks says why the figure cannot be drawn ("" if it can).
std::string why_no_sinks(const AblationFile& f);
void plot_sinks(const AblationFile& f, const std::string& out, const PlotOptions& o = {});

// Confidence sweep (groups of the "confidence" builder): perplexity against params.threshold,
// one line per group and params.base_window, with the reference group's perplexity at the
// matching context as horizontal lines.
std::string why_no_confidence(const AblationFile& f);
void plot_confidence(const AblationFile& f, const std::string& out, const PlotOptions& o = {});

// Head map: layers x heads grid coloured by head type (Okabe-Ito colour per type, legend with
// counts), each cell also tagged with the type (TP, SP, G, ...) so it reads without colour,
// shaded by stability (or confidence when the file has no stability); cell text per o.cell_text.
void plot_headmap(const HeadTypeGrid& g, const std::string& out, const PlotOptions& o = {});

enum class HeatMetric { Entropy, Sink, Local, RelPos };
// "entropy" | "sink" | "local" | "relpos"; throws Error otherwise.
HeatMetric parse_heat_metric(const std::string& name);
std::string heat_metric_name(HeatMetric m);
// Layers x heads heatmap of mean entropy, sink ratio or local ratio; or (RelPos) the
// relative-position profile: one row per layer.head, one column per distance.
void plot_heatmap(const HeadStatsGrid& g, HeatMetric m, const std::string& out,
                  const PlotOptions& o = {});

// Every figure that the given inputs allow, into out_dir as <figure>.<ext> (ext "png", "svg" or
// "pdf").
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
