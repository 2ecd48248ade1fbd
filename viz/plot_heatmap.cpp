// Heatmaps of per-head statistics: layers x heads (entropy, sink ratio, local ratio) and the
// relative-position profile (one row per layer.head, one column per distance).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "common/error.h"
#include "viz/figures.h"
#include "viz/style.h"

namespace headscope::viz {

namespace {


std::string run_line(const HeadStatsGrid& g) {
  std::string run = g.info.describe();
  std::string dims = std::to_string(g.layers) + " layers x " + std::to_string(g.heads) + " heads";
  return run.empty() ? std::filesystem::path(g.path).filename().string() + " | " + dims
                     : run + " | " + dims;
}

void grid_heatmap(const HeadStatsGrid& g, HeatMetric m, const std::string& out,
                  const PlotOptions& o) {
  std::string what, cblabel;
  const std::string sink_n = g.sink_size > 0 ? std::to_string(g.sink_size) : "sink";
  const std::string local_n = g.local_window > 0 ? std::to_string(g.local_window) : "local-window";
  auto value = [&](const HeadStatCell& c) {
    return m == HeatMetric::Entropy ? c.mean_entropy
           : m == HeatMetric::Sink  ? c.sink_ratio
                                    : c.local_ratio;
  };
  if (m == HeatMetric::Entropy) {
    what = "Mean attention entropy per head";
    cblabel = "mean entropy of the attention distribution (nats)";
  } else if (m == HeatMetric::Sink) {
    what = "Sink ratio per head";
    cblabel = "share of attention on the first " + sink_n + " tokens (0-1)";
  } else {
    what = "Local ratio per head";
    cblabel = "share of attention within the last " + local_n + " tokens (0-1)";
  }
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& c : g.cells) {
    double v = value(c);
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  require(std::isfinite(lo), g.path + ": no finite " + heat_metric_name(m) + " value to plot");
  const bool fixed = std::isfinite(o.range_lo) && std::isfinite(o.range_hi);
  if (fixed) {
    lo = o.range_lo;
    hi = o.range_hi;
    cblabel += " [range fixed " + fmt("%g", lo) + ":" + fmt("%g", hi) + "]";
  } else if (hi - lo < 1e-12) {  // a constant map still needs a colour range
    lo -= 0.5;
    hi += 0.5;
  }
  const bool cell_text = g.layers * g.heads <= 160;
  std::vector<std::string> lines;
  for (const auto& c : g.cells) {
    double v = value(c);
    double t = std::isfinite(v) ? std::clamp((v - lo) / (hi - lo), 0.0, 1.0) : 0.0;
    // Dark text on the bright end of the palette, light text on the dark end.
    long tc = t > 0.6 ? 0x101010 : 0xffffff;
    const double shown = std::isfinite(v) ? std::clamp(v, lo, hi) : v;
    lines.push_back(std::to_string(c.head) + " " + std::to_string(c.layer) + " " + gp_num(shown) +
                    " " + gp_data_string(std::isfinite(v) ? fmt("%.3g", v) : "n/a") + " " +
                    std::to_string(tc));
  }
  std::string s = common_header(what, run_line(g));
  s += viridis_palette();
  s += "set xlabel \"head\"\nset ylabel \"layer\"\n";
  s += "set cblabel " + gp_quote(cblabel) + "\n";
  s += "set cbrange [" + gp_num(lo) + ":" + gp_num(hi) + "]\n";
  s += "set xrange [-0.5:" + gp_num(g.heads - 0.5) + "]\n";
  s += "set yrange [" + gp_num(g.layers - 0.5) + ":-0.5]\n";
  s += "set xtics 0, " + std::to_string(tick_step(g.heads)) + " out\n";
  s += "set ytics 0, " + std::to_string(tick_step(g.layers)) + " out\n";
  s += "unset grid\nunset key\n";
  s += gp_datablock("cells", lines);
  s += "plot $cells using 1:2:3 with image notitle";
  if (cell_text) s += ", \\\n     $cells using 1:2:4:5 with labels font \"," +
                         std::string(g.layers * g.heads <= 48 ? "13" : "10") +
                         "\" tc rgb variable notitle";
  s += "\n";
  render_gnuplot(s, out, o.width, o.height);
}

void relpos_heatmap(const HeadStatsGrid& g, const std::string& out, const PlotOptions& o) {
  const int64_t rows = g.layers * g.heads;
  const size_t cols = g.relpos_len;
  require(cols > 0, g.path + ": empty relative_position_dist");
  // Shares span orders of magnitude (distance 0 and 1 dominate): log colour scale with a floor.
  double hi = 0;
  for (const auto& c : g.cells)
    for (double v : c.relpos)
      if (std::isfinite(v)) hi = std::max(hi, v);
  require(hi > 0, g.path + ": relative_position_dist is zero everywhere");
  double lo = hi;
  for (const auto& c : g.cells)
    for (double v : c.relpos)
      if (std::isfinite(v) && v > 0) lo = std::min(lo, v);
  double floor = std::max({lo, hi * 1e-4, 1e-12});
  std::string cbnote;
  if (std::isfinite(o.range_lo) && std::isfinite(o.range_hi)) {
    require(o.range_lo > 0, "--range for the relative-position heatmap (log colour scale) needs LO > 0");
    floor = o.range_lo;
    hi = o.range_hi;
    cbnote = " [range fixed " + fmt("%g", floor) + ":" + fmt("%g", hi) + "]";
  }
  std::vector<std::string> lines;
  lines.reserve(size_t(rows) * cols);
  for (const auto& c : g.cells) {
    const int64_t row = c.layer * g.heads + c.head;
    for (size_t d = 0; d < cols; ++d) {
      double v = c.relpos[d];
      lines.push_back(std::to_string(d) + " " + std::to_string(row) + " " +
                      gp_num(std::isfinite(v) ? std::clamp(v, floor, hi) : v));
    }
  }
  std::string ytics;
  if (rows <= 48) {
    for (const auto& c : g.cells)
      ytics += std::string(ytics.empty() ? "" : ", ") +
               gp_quote(std::to_string(c.layer) + "." + std::to_string(c.head)) + " " +
               std::to_string(c.layer * g.heads + c.head);
  } else {
    int step = tick_step(g.layers);
    for (int64_t l = 0; l < g.layers; l += step)
      ytics += std::string(ytics.empty() ? "" : ", ") + gp_quote("L" + std::to_string(l)) + " " +
               std::to_string(l * g.heads);
  }
  // Tall enough for every row to stay visible (at least 2 px per row, capped).
  const int height = int(std::clamp<int64_t>(rows * 2 + 220, o.height, 4000));
  std::string s = common_header("Relative-position profile per head", run_line(g));
  s += viridis_palette();
  s += "set xlabel \"relative distance: query position - key position (tokens)\"\n";
  s += std::string("set ylabel \"") + (rows <= 48 ? "layer.head" : "layer (heads within it)") +
       "\"\n";
  s += "set cblabel " + gp_quote("mean attention share at that distance (log scale)" + cbnote) + "\n";
  s += "set logscale cb\nset format cb \"%.0e\"\n";
  s += "set cbrange [" + gp_num(floor) + ":" + gp_num(hi) + "]\n";
  s += "set xrange [-0.5:" + gp_num(double(cols) - 0.5) + "]\n";
  s += "set yrange [" + gp_num(double(rows) - 0.5) + ":-0.5]\n";
  s += "set xtics 0, " + std::to_string(cols > 32 ? 8 : (cols > 16 ? 4 : 1)) + " out\n";
  s += "set ytics (" + ytics + ") out" + (rows <= 48 ? " font \",11\"" : "") + "\n";
  s += "unset grid\nunset key\n";
  if (rows > 48) {
    // Thin separators between layers.
    for (int64_t l = 1; l < g.layers; ++l)
      s += "set arrow from graph 0, first " + gp_num(l * g.heads - 0.5) + " to graph 1, first " +
           gp_num(l * g.heads - 0.5) + " nohead lc rgb \"#ffffff\" lw 0.4 front\n";
  }
  s += gp_datablock("rp", lines);
  s += "plot $rp using 1:2:3 with image notitle\n";
  render_gnuplot(s, out, o.width, height);
}

}  // namespace

void parse_range(const std::string& text, PlotOptions& o) {
  const size_t colon = text.find(':');
  auto num = [&](const std::string& part) {
    char* end = nullptr;
    const double v = std::strtod(part.c_str(), &end);
    require(!part.empty() && end && *end == '\0' && std::isfinite(v),
            "--range must be LO:HI with two numbers, got '" + text + "'");
    return v;
  };
  require(colon != std::string::npos, "--range must be LO:HI with two numbers, got '" + text + "'");
  const double lo = num(text.substr(0, colon)), hi = num(text.substr(colon + 1));
  require(lo < hi, "--range LO:HI needs LO < HI, got '" + text + "'");
  o.range_lo = lo;
  o.range_hi = hi;
}

HeatMetric parse_heat_metric(const std::string& n) {
  if (n == "entropy") return HeatMetric::Entropy;
  if (n == "sink") return HeatMetric::Sink;
  if (n == "local") return HeatMetric::Local;
  if (n == "relpos") return HeatMetric::RelPos;
  throw Error("unknown heatmap metric '" + n + "' (expected entropy, sink, local or relpos)");
}

std::string heat_metric_name(HeatMetric m) {
  switch (m) {
    case HeatMetric::Entropy: return "entropy";
    case HeatMetric::Sink: return "sink";
    case HeatMetric::Local: return "local";
    case HeatMetric::RelPos: return "relpos";
  }
  return "?";
}

void plot_heatmap(const HeadStatsGrid& g, HeatMetric m, const std::string& out,
                  const PlotOptions& o) {
  format_for_path(out);
  require(g.layers > 0 && g.heads > 0 && g.cells.size() == size_t(g.layers * g.heads),
          g.path + ": empty head grid");
  if (m == HeatMetric::RelPos)
    relpos_heatmap(g, out, o);
  else
    grid_heatmap(g, m, out, o);
}

}  // namespace headscope::viz
