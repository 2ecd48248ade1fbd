// Sink importance: window only (the first group of uniform results without sink tokens) versus
// sink + window (the file's reference group) at equal context.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "common/error.h"
#include "viz/figures.h"
#include "viz/style.h"

namespace headscope::viz {

namespace {

struct Pair {
  const AblationResult* a = nullptr;
  const AblationResult* b = nullptr;
};

// The window-only group: the first group in list order (other than the reference) whose
// results all use the uniform builder with no sink tokens; "" when there is none.
std::string window_only_group(const AblationFile& f) {
  for (const auto& g : f.groups) {
    if (g.id == f.reference_group) continue;
    bool all = true;
    for (const auto* r : f.group(g.id)) {
      const double sink = r->param_number("sink");
      all = all && r->param_string("builder") == "uniform" && std::isfinite(sink) && sink == 0;
    }
    if (all) return g.id;
  }
  return "";
}

// Window-only and reference results paired by nominal context (the first of each per context).
std::map<long, Pair> pairs_by_context(const AblationFile& f) {
  std::map<long, Pair> m;
  const std::string a = window_only_group(f), b = f.reference_group;
  if (a.empty()) return m;
  for (const auto& r : f.results) {
    if (r.group != a && r.group != b) continue;
    double k = r.context_key();
    if (!std::isfinite(k)) continue;
    Pair& p = m[std::lround(k)];
    if (r.group == a && !p.a) p.a = &r;
    if (r.group == b && !p.b) p.b = &r;
  }
  for (auto it = m.begin(); it != m.end();) {
    if (!it->second.a || !it->second.b)
      it = m.erase(it);
    else
      ++it;
  }
  return m;
}

}  // namespace

std::string why_no_sinks(const AblationFile& f) {
  if (!pairs_by_context(f).empty()) return "";
  const std::string a = window_only_group(f);
  if (a.empty())
    return "needs a window-only group (uniform builder, sink 0) besides the reference group " +
           f.reference_group;
  return "needs groups " + a + " and " + f.reference_group +
         " (reference) at an equal nominal context (the file has " +
         std::to_string(f.group(a).size()) + " " + a + " and " +
         std::to_string(f.group(f.reference_group).size()) + " " + f.reference_group +
         " results, none paired)";
}

void plot_sinks(const AblationFile& f, const std::string& out, const PlotOptions& o) {
  format_for_path(out);
  const auto pairs = pairs_by_context(f);
  require(!pairs.empty(), f.path + ": sink figure " + why_no_sinks(f));

  std::vector<double> ys;
  if (f.has_dense()) ys.push_back(f.dense_perplexity);
  for (const auto& [k, p] : pairs) {
    ys.push_back(p.a->perplexity);
    ys.push_back(p.b->perplexity);
  }
  const bool logy = wants_log(ys, 20.0);
  double sink = NAN;
  for (const auto& [k, p] : pairs)
    if (std::isnan(sink)) sink = p.b->param_number("sink");

  const std::string ga = window_only_group(f), gb = f.reference_group;
  std::string s = common_header("Sink importance: window only (" + ga + ") vs sink + window (" +
                                    gb + ") at equal context",
                                f.info.describe());
  s += "set xlabel " +
       gp_quote("nominal context (tokens): " + ga + " = window, " + gb + " = " +
                (std::isfinite(sink) ? fmt("%g", sink) + " sink tokens" : std::string("sink tokens")) +
                " + window") +
       " offset 0, -0.5\n";
  const std::string ratio_name = ga + "/" + gb;
  s += std::string("set ylabel \"perplexity") + (logy ? " (log scale)" : "") +
       " (lower is better)\"\n";
  if (logy) s += log_axis("y", *std::min_element(ys.begin(), ys.end()),
                          *std::max_element(ys.begin(), ys.end()));
  else s += "set yrange [0:*]\n";
  s += "set grid noxtics ytics\n";
  s += "set boxwidth 0.38 absolute\n";
  s += "set style fill solid 0.85 border lc rgb \"#303030\"\n";
  // The legend below the plot, where it covers no bar.
  s += "set key at screen 0.5, screen 0.012 center bottom horizontal font \",11\"\n";
  s += "set offsets 0, 0, graph 0.12, 0\n";
  s += "set bmargin 7\n";

  std::vector<std::string> la, lb;
  std::string xtics;
  long i = 0;
  for (const auto& [k, p] : pairs) {
    la.push_back(gp_num(i - 0.2) + " " + gp_num(p.a->perplexity) + " " +
                 gp_data_string(fmt(p.a->perplexity < 1000 ? "%.1f" : "%.0f", p.a->perplexity)));
    lb.push_back(gp_num(i + 0.2) + " " + gp_num(p.b->perplexity) + " " +
                 gp_data_string(fmt(p.b->perplexity < 1000 ? "%.1f" : "%.0f", p.b->perplexity)));
    std::string tic = std::to_string(k) + "\n(" + ratio_name + " " + fmt("%.2f", p.a->perplexity / p.b->perplexity) + "x)";
    xtics += std::string(xtics.empty() ? "" : ", ") + gp_quote(tic) + " " + std::to_string(i);
    ++i;
  }
  s += "set xtics (" + xtics + ")\n";
  s += "set xrange [-0.6:" + gp_num(double(i) - 0.4) + "]\n";
  s += gp_datablock("a", la) + gp_datablock("b", lb);
  s += "plot $a using 1:2 with boxes lc rgb \"" + group_colour(f, ga) + "\" title " +
       gp_quote(group_label(f, ga)) + ", \\\n";
  s += "     $b using 1:2 with boxes fs pattern 2 lc rgb \"" + group_colour(f, gb) + "\" title " +
       gp_quote(group_label(f, gb)) + ", \\\n";
  s += "     $a using 1:2:3 with labels center offset 0, char 0.7 font \",11\" notitle, \\\n";
  s += "     $b using 1:2:3 with labels center offset 0, char 0.7 font \",11\" notitle";
  if (f.has_dense())
    s += ", \\\n     " + gp_num(f.dense_perplexity) + " with lines dt 2 lw 2 lc rgb \"black\" title " +
         gp_quote("dense, full context (PPL " + fmt("%.2f", f.dense_perplexity) + ")");
  s += "\n";
  render_gnuplot(s, out, o.width, o.height);
}

}  // namespace headscope::viz
