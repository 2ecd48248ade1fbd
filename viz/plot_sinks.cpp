// Sink importance: window only (group A) versus sink + window (group B) at equal context.
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

// A and B results paired by nominal context (first result of each group per context).
std::map<long, Pair> pairs_by_context(const AblationFile& f) {
  std::map<long, Pair> m;
  for (const auto& r : f.results) {
    if (r.group != "A" && r.group != "B") continue;
    double k = r.context_key();
    if (!std::isfinite(k)) continue;
    Pair& p = m[std::lround(k)];
    if (r.group == "A" && !p.a) p.a = &r;
    if (r.group == "B" && !p.b) p.b = &r;
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
  return "needs groups A and B at an equal nominal context (the file has " +
         std::to_string(f.group("A").size()) + " A and " + std::to_string(f.group("B").size()) +
         " B results, none paired)";
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

  std::string s = common_header("Sink importance: window only (A) vs sink + window (B) at equal context",
                                f.info.describe());
  s += "set xlabel \"nominal context (tokens): A = window, B = " +
       (std::isfinite(sink) ? fmt("%g", sink) + " sink tokens" : std::string("sink tokens")) +
       " + window\" offset 0, -0.5\n";
  s += std::string("set ylabel \"perplexity") + (logy ? " (log scale)" : "") +
       " (lower is better)\"\n";
  if (logy) s += log_axis("y", *std::min_element(ys.begin(), ys.end()),
                          *std::max_element(ys.begin(), ys.end()));
  else s += "set yrange [0:*]\n";
  s += "set grid noxtics ytics\n";
  s += "set boxwidth 0.38 absolute\n";
  s += "set style fill solid 0.85 border lc rgb \"#303030\"\n";
  s += "set key inside right top\n";
  s += "set offsets 0, 0, graph 0.12, 0\n";
  s += "set bmargin 5\n";

  std::vector<std::string> la, lb;
  std::string xtics;
  long i = 0;
  for (const auto& [k, p] : pairs) {
    la.push_back(gp_num(i - 0.2) + " " + gp_num(p.a->perplexity) + " " +
                 gp_data_string(fmt(p.a->perplexity < 1000 ? "%.1f" : "%.0f", p.a->perplexity)));
    lb.push_back(gp_num(i + 0.2) + " " + gp_num(p.b->perplexity) + " " +
                 gp_data_string(fmt(p.b->perplexity < 1000 ? "%.1f" : "%.0f", p.b->perplexity)));
    std::string tic = std::to_string(k) + "\n(A/B " + fmt("%.2f", p.a->perplexity / p.b->perplexity) + "x)";
    xtics += std::string(xtics.empty() ? "" : ", ") + gp_quote(tic) + " " + std::to_string(i);
    ++i;
  }
  s += "set xtics (" + xtics + ")\n";
  s += "set xrange [-0.6:" + gp_num(double(i) - 0.4) + "]\n";
  s += gp_datablock("a", la) + gp_datablock("b", lb);
  s += "plot $a using 1:2 with boxes lc rgb \"" + group_colour("A", 0) + "\" title " +
       gp_quote(group_label(f, "A")) + ", \\\n";
  s += "     $b using 1:2 with boxes lc rgb \"" + group_colour("B", 0) + "\" title " +
       gp_quote(group_label(f, "B")) + ", \\\n";
  s += "     $a using 1:2:3 with labels center offset 0, char 0.7 font \",11\" notitle, \\\n";
  s += "     $b using 1:2:3 with labels center offset 0, char 0.7 font \",11\" notitle";
  if (f.has_dense())
    s += ", \\\n     " + gp_num(f.dense_perplexity) + " with lines dt 2 lw 2 lc rgb \"black\" title " +
         gp_quote("dense, full context (PPL " + fmt("%.2f", f.dense_perplexity) + ")");
  s += "\n";
  render_gnuplot(s, out, o.width, o.height);
}

}  // namespace headscope::viz
