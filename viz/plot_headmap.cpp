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

CellText parse_cell_text(const std::string& n) {
  if (n == "auto") return CellText::Auto;
  if (n == "confidence") return CellText::Confidence;
  if (n == "stability") return CellText::Stability;
  if (n == "threshold-value") return CellText::ThresholdValue;
  if (n == "none") return CellText::None;
  throw Error("unknown cell text '" + n +
              "' (expected confidence, stability, threshold-value, none or auto)");
}

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
  CellText text = o.cell_text == CellText::Auto
                      ? (by_stability ? CellText::Stability : CellText::Confidence)
                      : o.cell_text;
  require(text != CellText::Stability || g.has_stability,
          g.path + ": --cell-text stability needs a \"stability\" value for every head");
  if (text == CellText::ThresholdValue)
    require(std::isfinite(o.threshold) && o.threshold >= 0 && o.threshold <= 1,
            "the threshold for --cell-text threshold-value must lie in [0, 1]");
  const int64_t n = g.layers * g.heads;
  const bool values = n <= 160 && text != CellText::None;  // type tag and value in each cell
  const bool tags = n <= 1100;                              // the type tag alone
  auto cell_value = [&](const HeadTypeCell& c) -> std::string {
    switch (text) {
      case CellText::Stability: return fmt("%.2f", c.stability);
      case CellText::ThresholdValue:
        return fmt("%.2f", c.confidence) + (c.confidence >= o.threshold ? "+" : "");
      default: return fmt("%.2f", c.confidence);
    }
  };
  const std::string text_name =
      text == CellText::Stability        ? "stability"
      : text == CellText::ThresholdValue ? "confidence\n(+ = at or above the confidence\nbuilder's threshold " +
                                               fmt("%g", o.threshold) + ")"
                                         : "confidence";
  std::vector<std::string> lines;
  for (const auto& c : g.cells) {
    double v = by_stability ? c.stability : c.confidence;
    // Shade from a pale tint (value 0) to the full type colour (value 1).
    Rgb fill = shade_toward_white(colour[c.type], 0.18 + 0.82 * std::clamp(v, 0.0, 1.0));
    lines.push_back(std::to_string(c.head) + " " + std::to_string(c.layer) + " " +
                    std::to_string(rgb_int(fill)) + " " + gp_data_string(head_type_tag(c.type)) +
                    " " + gp_data_string(values ? cell_value(c) : "") + " " +
                    std::to_string(text_colour_on(fill)));
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
  const std::string note = "shade: " + shade_name + "\n(pale = 0, solid = 1)" +
                           (tags ? "\ncell: type tag" : "") + (values ? " and " + text_name : "");
  // Bottom right, anchored at its first line, high enough for every line to stay on the page.
  const double note_lines = double(std::count(note.begin(), note.end(), '\n') + 1);
  s += "set label 1 " + gp_quote(note) + " at screen 0.985, screen " +
       gp_num(std::min(0.9, (note_lines * 16.5 + 6.0) / double(o.height))) + " right font \",11\"\n";
  s += gp_datablock("cells", lines);
  const double half = 0.5;
  s += "plot $cells using 1:2:(" + gp_num(half) + "):(" + gp_num(half) +
       "):3 with boxxyerror fc rgb variable fs solid 1.0 border lc rgb \"white\" notitle";
  const std::string font = n <= 48 ? "13" : n <= 160 ? "10" : n <= 400 ? "8" : "6";
  if (tags)
    s += ", \\\n     $cells using 1:2:4:6 with labels font \"," + font + "\"" +
         (values ? " offset 0, char 0.45" : "") + " tc rgb variable notitle";
  if (values)
    s += ", \\\n     $cells using 1:2:5:6 with labels font \"," + font +
         "\" offset 0, char -0.5 tc rgb variable notitle";
  for (const auto& t : types)
    s += ", \\\n     keyentry with boxes fs solid 1.0 fc rgb \"" + rgb_hex(colour[t]) +
         "\" title " + gp_quote(head_type_tag(t) + " " + t + " (" + std::to_string(count[t]) + ")");
  s += "\n";
  render_gnuplot(s, out, o.width, o.height);
}

}  // namespace headscope::viz
