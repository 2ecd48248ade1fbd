#include "viz/style.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace headscope::viz {

namespace {
const std::vector<std::string> kExtraColours = {"#17becf", "#bcbd22", "#7f7f7f", "#e377c2",
                                                 "#393b79", "#637939", "#8c6d31", "#843c39"};
const std::vector<int> kExtraPoints = {4, 6, 8, 10, 12, 14, 1, 2, 3};
const std::vector<std::string> kFixedGroups = {"A", "B", "G", "I", "J", "K"};
}  // namespace

std::string group_colour(const std::string& g, size_t index) {
  static const std::map<std::string, std::string> fixed = {
      {"A", "#e6550d"}, {"B", "#3182bd"}, {"G", "#31a354"},
      {"I", "#756bb1"}, {"J", "#d6616b"}, {"K", "#8c564b"}};
  auto it = fixed.find(g);
  if (it != fixed.end()) return it->second;
  return kExtraColours[index % kExtraColours.size()];
}

int group_point_type(const std::string& g, size_t index) {
  static const std::map<std::string, int> fixed = {{"A", 5},  {"B", 7},  {"G", 9},
                                                    {"I", 11}, {"J", 13}, {"K", 15}};
  auto it = fixed.find(g);
  if (it != fixed.end()) return it->second;
  return kExtraPoints[index % kExtraPoints.size()];
}

std::string group_label(const AblationFile& f, const std::string& g) {
  if (g == "A") return "A: window only";
  if (g == "B") return "B: StreamingLLM (sink + window)";
  // The builder most results of the group use.
  std::map<std::string, int> count;
  for (const auto* r : f.group(g)) {
    std::string b = r->param_string("builder");
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
  for (const auto& g : kFixedGroups)
    if (f.has_group(g)) out.push_back(g);
  for (const auto& r : f.results)
    if (std::find(out.begin(), out.end(), r.group) == out.end()) out.push_back(r.group);
  return out;
}

const std::vector<std::string>& known_head_types() {
  static const std::vector<std::string> t = {"dead",  "sink_positional", "true_positional",
                                             "positional", "mixed", "sink_mixed", "gathering"};
  return t;
}

std::string head_type_colour(const std::string& type, size_t index) {
  static const std::map<std::string, std::string> fixed = {
      {"dead", "#404040"},      {"sink_positional", "#ff7f0e"}, {"true_positional", "#1f77b4"},
      {"positional", "#17becf"}, {"mixed", "#2ca02c"},          {"sink_mixed", "#9467bd"},
      {"gathering", "#d62728"}};
  auto it = fixed.find(type);
  if (it != fixed.end()) return it->second;
  static const std::vector<std::string> extra = {"#8c564b", "#e377c2", "#bcbd22", "#7f7f7f"};
  return extra[index % extra.size()];
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
