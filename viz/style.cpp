#include "viz/style.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>

namespace headscope::viz {

const std::vector<std::string>& okabe_ito() {
  static const std::vector<std::string> c = {"#000000", "#E69F00", "#56B4E9", "#009E73",
                                             "#F0E442", "#0072B2", "#D55E00", "#CC79A7"};
  return c;
}

namespace {
// Group colours in list order: the strong Okabe-Ito colours first, yellow (weak on white) last.
const std::vector<std::string> kGroupColours = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                                 "#E69F00", "#56B4E9", "#000000", "#F0E442"};
// Filled circle, square, triangle up, diamond, triangle down, pentagon, then open shapes.
const std::vector<int> kGroupPoints = {7, 5, 9, 13, 11, 15, 6, 4, 8, 12, 10, 14, 1, 2, 3};
}  // namespace

std::string group_colour(const AblationFile& f, const std::string& g) {
  const size_t i = f.group_index(g);
  if (const auto* info = f.group_info(g); info && !info->colour.empty()) return info->colour;
  return kGroupColours[i % kGroupColours.size()];
}

int group_point_type(const AblationFile& f, const std::string& g) {
  return kGroupPoints[f.group_index(g) % kGroupPoints.size()];
}

bool head_aware_result(const AblationResult& r) {
  const std::string b = r.param_string("builder");
  return !b.empty() && b != "uniform";
}

std::string group_label(const AblationFile& f, const std::string& g) {
  if (const auto* info = f.group_info(g); info && !info->title.empty()) return g + ": " + info->title;
  // No title in the file: describe the group by the builder most of its results use.
  std::map<std::string, int> count;
  for (const auto* r : f.group(g)) {
    std::string b = r->param_string("builder");
    if (b == "uniform") {
      const double sink = r->param_number("sink");
      b = std::isfinite(sink) && sink > 0 ? "sink + window" : "window only";
    }
    if (!b.empty()) ++count[b];
  }
  std::string best;
  int n = 0;
  for (const auto& [b, c] : count)
    if (c > n) best = b, n = c;
  if (count.size() > 1) best += ", ...";
  return best.empty() ? g : g + ": " + best;
}

std::vector<std::string> ordered_groups(const AblationFile& f) {
  std::vector<std::string> out;
  for (const auto& g : f.groups) out.push_back(g.id);
  return out;
}

const std::vector<std::string>& known_head_types() {
  static const std::vector<std::string> t = {"dead",  "sink_positional", "true_positional",
                                             "positional", "mixed", "sink_mixed", "gathering"};
  return t;
}

std::string head_type_colour(const std::string& type, size_t index) {
  static const std::map<std::string, std::string> fixed = {
      {"dead", "#000000"},       {"sink_positional", "#E69F00"}, {"true_positional", "#0072B2"},
      {"positional", "#56B4E9"}, {"mixed", "#009E73"},           {"sink_mixed", "#CC79A7"},
      {"gathering", "#D55E00"}};
  auto it = fixed.find(type);
  if (it != fixed.end()) return it->second;
  static const std::vector<std::string> extra = {"#F0E442", "#7f7f7f", "#b0b0b0", "#404040"};
  return extra[index % extra.size()];
}

std::string head_type_tag(const std::string& type) {
  static const std::map<std::string, std::string> fixed = {
      {"dead", "D"},       {"sink_positional", "SP"}, {"true_positional", "TP"},
      {"positional", "P"}, {"mixed", "M"},            {"sink_mixed", "SM"},
      {"gathering", "G"}};
  auto it = fixed.find(type);
  if (it != fixed.end()) return it->second;
  std::string t;
  for (char c : type) {
    if (!std::isalnum(static_cast<unsigned char>(c))) continue;
    t += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (t.size() == 2) break;
  }
  return t.empty() ? "?" : t;
}

long text_colour_on(const Rgb& c) {
  // Relative luminance (sRGB weights, without gamma: enough to pick black or white).
  const double y = (0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b) / 255.0;
  return y > 0.45 ? 0x101010 : 0xffffff;
}

std::string common_header(const std::string& what, const std::string& run_line) {
  std::string s;
  s += "set title " + gp_quote(run_line.empty() ? what : what + "\n" + run_line) +
       " font \",15\"\n";
  s += "set grid lc rgb \"#d0d0d0\" lw 0.7\n";
  s += "set border lw 1\n";
  s += "set tics nomirror\n";
  s += "set key box lc rgb \"#b0b0b0\" opaque samplen 2.5 spacing 1.15\n";
  return s;
}

bool wants_log(const std::vector<double>& v, double ratio) {
  double lo = INFINITY, hi = 0;
  for (double x : v) {
    if (!std::isfinite(x)) continue;
    if (x <= 0) return false;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  return hi > 0 && std::isfinite(lo) && hi / lo > ratio;
}

std::string log_axis(const std::string& axis, double lo, double hi) {
  const double a = lo / 1.15, b = hi * 1.25;
  std::string tics;
  int n = 0;
  for (int k = int(std::floor(std::log10(a))) - 1; k <= int(std::ceil(std::log10(b))); ++k)
    for (double m : {1.0, 1.5, 2.0, 3.0, 5.0, 7.0}) {
      double v = m * std::pow(10.0, k);
      if (v < a || v > b) continue;
      char buf[48];
      std::snprintf(buf, sizeof buf, "%s\"%g\" %.10g", n++ ? ", " : "", v, v);
      tics += buf;
    }
  std::string s = "set logscale " + axis + "\n";
  char buf[96];
  std::snprintf(buf, sizeof buf, "set %srange [%.10g:%.10g]\n", axis.c_str(), a, b);
  s += buf;
  if (n >= 2) s += "set " + axis + "tics (" + tics + ")\n";
  else s += "set format " + axis + " \"%g\"\n";
  return s;
}

std::string viridis_palette() {
  return "set palette defined (0 \"#440154\", 0.13 \"#482878\", 0.25 \"#3e4a89\", "
         "0.38 \"#31688e\", 0.5 \"#26828e\", 0.63 \"#1f9e89\", 0.75 \"#35b779\", "
         "0.88 \"#6ece58\", 1 \"#fde725\")\n";
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

int tick_step(int64_t n) { return int(std::max<int64_t>(1, (n + 15) / 16)); }

}  // namespace headscope::viz
