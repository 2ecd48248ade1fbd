// Shared look of the figures: group and head-type colours, markers, titles, axis scaling.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "viz/ablation_file.h"
#include "viz/gnuplot.h"

namespace headscope::viz {

// The Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008), as "#rrggbb": black, orange, sky
// blue, bluish green, yellow, blue, vermillion, reddish purple.
const std::vector<std::string>& okabe_ito();

// A group's colour: the file's own colour for it when its group list sets one, else the
// Okabe-Ito colour of the group's position in the file's group list (no group id is special).
std::string group_colour(const AblationFile& f, const std::string& group);
// A gnuplot point type per position in the group list (distinct filled/open shapes).
int group_point_type(const AblationFile& f, const std::string& group);
// "<id>: <title>" from the file's group list; without a title, what the group's parameters say
// ("window only" for uniform without sink, "sink + window" for uniform with sink, else the
// builder most of its results use).
std::string group_label(const AblationFile& f, const std::string& group);
// Group ids in the file's group-list order (AblationFile::groups).
std::vector<std::string> ordered_groups(const AblationFile& f);
// True for a head-aware result: any builder other than "uniform" (and a builder is named).
bool head_aware_result(const AblationResult& r);

// Colour per head type from the Okabe-Ito palette (dead, sink_positional, true_positional,
// positional, mixed, sink_mixed, gathering); other types get the remaining colours by `index`.
std::string head_type_colour(const std::string& type, size_t index);
// A short tag shown in each head-map cell so the type reads without colour: D, SP, TP, P, M,
// SM, G; other types their first two letters, upper-cased.
std::string head_type_tag(const std::string& type);
// The known types in display order.
const std::vector<std::string>& known_head_types();
// Text colour that stays readable on `fill` (#101010 on light fills, white on dark ones).
long text_colour_on(const Rgb& fill);

// Script lines common to every figure: title (two lines: `what`, then the run description),
// grid, border and key style.
std::string common_header(const std::string& what, const std::string& run_line);

// True when the values span more than `ratio` (max/min, all positive): use a log axis.
bool wants_log(const std::vector<double>& values, double ratio = 20.0);

// Script lines for a logarithmic axis ("x" or "y") spanning the positive values [lo, hi]: a
// range with a small margin and ticks at 1, 1.5, 2, 3, 5, 7 x 10^k (so a narrow range still has labels).
std::string log_axis(const std::string& axis, double lo, double hi);

// printf-style formatting of one number ("%.2f", v) for labels and script lines.
std::string fmt(const char* format, double v);
// Tick step so that at most ~16 labels appear along an axis of n items.
int tick_step(int64_t n);

// Viridis-like palette definition for heatmaps.
std::string viridis_palette();

}  // namespace headscope::viz
