// Shared look of the figures: group and head-type colours, markers, titles, axis scaling.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "viz/ablation_file.h"
#include "viz/gnuplot.h"

namespace headscope::viz {

// Fixed colour and point type per ablation group (A, B, G, I, J, K); other groups take the
// remaining colours in order of first appearance (`index` = that order).
std::string group_colour(const std::string& group, size_t index);
int group_point_type(const std::string& group, size_t index);
// "B: StreamingLLM (sink + window)", "G: confidence", "I: from_classifications", ...
std::string group_label(const AblationFile& f, const std::string& group);
// Groups in a stable order: A, B, G, I, J, K first, then the others as they appear in the file.
std::vector<std::string> ordered_groups(const AblationFile& f);

// Fixed colour per head type (dead, sink_positional, true_positional, positional, mixed,
// sink_mixed, gathering); other types get extra colours by `index`.
std::string head_type_colour(const std::string& type, size_t index);
// The known types in display order.
const std::vector<std::string>& known_head_types();

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
