// Head map: the layers x heads grid coloured by head type, shaded by stability (or confidence).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "common/error.h"
#include "viz/figures.h"
#include "viz/style.h"

namespace headscope::viz {

void plot_headmap(const HeadTypeGrid& g, const std::string& out, const PlotOptions& o) {
  format_for_path(out);
  require(g.layers > 0 && g.heads > 0 && g.cells.size() == size_t(g.layers * g.heads),
          g.path + ": empty head grid");
  // Types in display order: the known ones first, then others as they appear.
  std::map<std::string, size_t> count;
  for (const auto& c : g.cells) ++count[c.type];
  std::vector<std::string> types;
  for (const auto& t : known_head_types())
    if (count.count(t)) types.push_back(t);
  for (const auto& c : g.cells)
    if (std::find(types.begin(), types.end(), c.type) == types.end()) types.push_back(c.type);
  std::map<std::string, Rgb> colour;
  size_t extra = 0;
  for (const auto& t : types) {
    bool known = std::find(known_head_types().begin(), known_head_types().end(), t) !=
                 known_head_types().end();
    colour[t] = parse_rgb(head_type_colour(t, known ? 0 : extra++));
  }

  const bool by_stability = g.has_stability;
  const std::string shade_name = by_stability ? "stability" : "confidence";
  const bool cell_text = g.layers * g.heads <= 160;
  std::vector<std::string> lines;
  for (const auto& c : g.cells) {
    double v = by_stability ? c.stability : c.confidence;
    // Shade from a pale tint (value 0) to the full type colour (value 1).
    Rgb fill = shade_toward_white(colour[c.type], 0.18 + 0.82 * std::clamp(v, 0.0, 1.0));
    lines.push_back(std::to_string(c.head) + " " + std::to_string(c.layer) + " " +
                    std::to_string(rgb_int(fill)) + " " + gp_data_string(fmt("%.2f", v)));
  }

  std::string run = g.info.describe();
  std::string dims = std::to_string(g.layers) + " layers x " + std::to_string(g.heads) +
                     " heads = " + std::to_string(g.cells.size());
  if (run.empty())
    run = std::filesystem::path(g.path).filename().string() + " | " + dims;
  else
    run += " | " + dims;
  std::string s = common_header("Head types by layer and head", run);
  s += "set xlabel \"head\"\nset ylabel \"layer\"\n";
  s += "set xrange [-0.5:" + gp_num(g.heads - 0.5) + "]\n";
  s += "set yrange [" + gp_num(g.layers - 0.5) + ":-0.5]\n";  // layer 0 at the top
  s += "set xtics 0, " + std::to_string(tick_step(g.heads)) + " out\n";
  s += "set ytics 0, " + std::to_string(tick_step(g.layers)) + " out\n";
  s += "unset grid\n";
  s += "set key outside right top vertical title \"head type (count)\" left reverse Left\n";
  s += "set label 1 " +
       gp_quote("shade: " + shade_name + "\n(pale = 0, solid = 1)" +
                (cell_text ? "\ncell text: " + shade_name : "")) +
       " at screen 0.985, screen 0.08 right font \",11\"\n";
  s += gp_datablock("cells", lines);
  const double half = 0.5;
  s += "plot $cells using 1:2:(" + gp_num(half) + "):(" + gp_num(half) +
       "):3 with boxxyerror fc rgb variable fs solid 1.0 border lc rgb \"white\" notitle";
  if (cell_text) s += ", \\\n     $cells using 1:2:4 with labels font \"," +
                       std::string(g.layers * g.heads <= 48 ? "13" : "10") +
                       "\" tc rgb \"#101010\" notitle";
  for (const auto& t : types)
    s += ", \\\n     keyentry with boxes fs solid 1.0 fc rgb \"" + rgb_hex(colour[t]) +
         "\" title " + gp_quote(t + " (" + std::to_string(count[t]) + ")");
  s += "\n";
  render_gnuplot(s, out, o.width, o.height);
}

}  // namespace headscope::viz
