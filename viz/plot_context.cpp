// Perplexity versus measured effective context, every ablation group on one figure.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/error.h"
#include "viz/figures.h"
#include "viz/style.h"

namespace headscope::viz {

namespace {

bool head_aware_group(const std::string& g) { return g == "G" || g == "I" || g == "J" || g == "K"; }

// StreamingLLM's (group B) perplexity at context x: linear in log(context) between B's points,
// B's end value outside them; NaN without B results.
double b_curve_at(const std::vector<const AblationResult*>& b, double x) {
  if (b.empty()) return std::nan("");
  if (x <= b.front()->measured_context) return b.front()->perplexity;
  if (x >= b.back()->measured_context) return b.back()->perplexity;
  for (size_t i = 1; i < b.size(); ++i) {
    const double x0 = b[i - 1]->measured_context, x1 = b[i]->measured_context;
    if (x > x1) continue;
    if (!(x0 > 0) || x1 <= x0) return b[i]->perplexity;
    const double t = std::log(x / x0) / std::log(x1 / x0);
    return b[i - 1]->perplexity + t * (b[i]->perplexity - b[i - 1]->perplexity);
  }
  return b.back()->perplexity;
}

// The head-aware results (groups G, I, J, K) worth a label: those that no other head-aware
// result beats (lower perplexity) with an equal or smaller measured context, ranked by their
// perplexity relative to StreamingLLM at the same context (plain perplexity without B), taking
// at most `max_labels` that lie at clearly different contexts (ratio > 1.3), in context order.
std::vector<const AblationResult*> best_head_aware(const std::vector<const AblationResult*>& pts,
                                                   size_t max_labels) {
  auto by_context = [](const AblationResult* a, const AblationResult* b) {
    if (a->measured_context != b->measured_context) return a->measured_context < b->measured_context;
    return a->perplexity < b->perplexity;
  };
  std::vector<const AblationResult*> c, b;
  for (const auto* r : pts) {
    if (head_aware_group(r->group)) c.push_back(r);
    if (r->group == "B") b.push_back(r);
  }
  std::sort(c.begin(), c.end(), by_context);
  std::sort(b.begin(), b.end(), by_context);
  std::vector<const AblationResult*> front;
  double best = INFINITY;
  for (const auto* r : c) {
    if (r->perplexity < best) {
      front.push_back(r);
      best = r->perplexity;
    }
  }
  auto score = [&](const AblationResult* r) {
    const double ref = b_curve_at(b, r->measured_context);
    return std::isfinite(ref) && ref > 0 ? r->perplexity / ref : r->perplexity;
  };
  std::stable_sort(front.begin(), front.end(), [&](const AblationResult* x, const AblationResult* y) {
    return score(x) < score(y);
  });
  std::vector<const AblationResult*> picked;
  for (const auto* r : front) {
    bool apart = true;
    for (const auto* p : picked) {
      const double lo = std::min(r->measured_context, p->measured_context);
      const double hi = std::max(r->measured_context, p->measured_context);
      if (lo <= 0 ? hi - lo < 1e-9 : hi / lo < 1.3) apart = false;
    }
    if (!apart) continue;
    picked.push_back(r);
    if (picked.size() == max_labels) break;
  }
  std::sort(picked.begin(), picked.end(), by_context);
  return picked;
}

}  // namespace

void plot_context(const AblationFile& f, const std::string& out, const PlotOptions& o) {
  format_for_path(out);
  std::vector<const AblationResult*> pts;
  size_t dropped = 0;
  for (const auto& r : f.results) {
    if (o.logx && !(r.measured_context > 0)) {
      ++dropped;
      continue;
    }
    pts.push_back(&r);
  }
  require(!pts.empty(), f.path + ": no result with a positive measured_context for a log x axis");

  std::vector<double> ys;
  if (f.has_dense()) ys.push_back(f.dense_perplexity);
  for (const auto* r : pts) ys.push_back(r->perplexity);
  const bool logy = wants_log(ys, 4.0);

  std::string s = common_header("Perplexity vs effective KV context", f.info.describe());
  s += "set xlabel \"effective context: keys visible per query, measured mean (tokens)" +
       std::string(o.logx ? ", log scale" : "") + "\"\n";
  s += std::string("set ylabel \"perplexity") + (logy ? " (log scale)" : "") +
       " (lower is better)\"\n";
  if (o.logx) s += "set logscale x 2\nset format x \"%g\"\n";
  if (logy) s += log_axis("y", *std::min_element(ys.begin(), ys.end()),
                          *std::max_element(ys.begin(), ys.end()));
  // Explicit x range (room on the right for labels) so the dense line spans the whole width.
  double xlo = INFINITY, xhi = -INFINITY;
  for (const auto* r : pts) {
    xlo = std::min(xlo, r->measured_context);
    xhi = std::max(xhi, r->measured_context);
  }
  if (o.logx) {
    s += "set xrange [" + gp_num(xlo / 1.15) + ":" + gp_num(xhi * 1.6) + "]\n";
  } else {
    const double span = xhi > xlo ? xhi - xlo : std::max(1.0, xhi);
    s += "set xrange [" + gp_num(std::max(0.0, xlo - 0.05 * span)) + ":" +
         gp_num(xhi + 0.22 * span) + "]\n";
  }
  if (!logy) s += "set offsets 0, 0, graph 0.08, graph 0.06\n";
  s += "set key inside right top vertical\n";

  const auto groups = ordered_groups(f);
  std::vector<std::string> plots;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const std::string& g = groups[gi];
    std::vector<const AblationResult*> rs;
    for (const auto* r : pts)
      if (r->group == g) rs.push_back(r);
    if (rs.empty()) continue;
    std::sort(rs.begin(), rs.end(), [](const AblationResult* a, const AblationResult* b) {
      return a->measured_context < b->measured_context;
    });
    std::vector<std::string> lines;
    for (const auto* r : rs)
      lines.push_back(gp_num(r->measured_context) + " " + gp_num(r->perplexity) + " " +
                      gp_data_string(r->name));
    const std::string block = "g" + std::to_string(gi);
    s += gp_datablock(block, lines);
    const std::string colour = group_colour(g, gi);
    const int pt = group_point_type(g, gi);
    const std::string title = group_label(f, g) + " (" + std::to_string(rs.size()) + ")";
    if (g == "B") {
      plots.push_back("$" + block + " using 1:2 with linespoints lw 2.5 pt " + std::to_string(pt) +
                      " ps 1.4 lc rgb \"" + colour + "\" title " + gp_quote(title));
    } else {
      plots.push_back("$" + block + " using 1:2 with points pt " + std::to_string(pt) +
                      " ps 1.5 lc rgb \"" + colour + "\" title " + gp_quote(title));
    }
  }
  if (f.has_dense())
    plots.push_back(gp_num(f.dense_perplexity) + " with lines dt 2 lw 2 lc rgb \"black\" title " +
                  gp_quote("dense, full context (PPL " + fmt("%.2f", f.dense_perplexity) + ")"));

  const auto best = best_head_aware(pts, 5);
  if (!best.empty()) {
    // Labels alternate above-right and below-right of their points so neighbours do not collide.
    std::vector<std::string> up, down;
    for (size_t i = 0; i < best.size(); ++i) {
      const auto* r = best[i];
      (i % 2 == 0 ? up : down)
          .push_back(gp_num(r->measured_context) + " " + gp_num(r->perplexity) + " " +
                     gp_data_string(r->name + " (" + fmt("%.1f", r->perplexity) + ")"));
    }
    s += "set style textbox opaque noborder margins 0.5, 0.3\n";
    s += gp_datablock("best_up", up);
    plots.push_back("$best_up using 1:2 with points pt 6 ps 2.6 lw 1.5 lc rgb \"black\" title " +
                    gp_quote("best head-aware at its context"));
    plots.push_back(
        "$best_up using 1:2:3 with labels boxed left offset char 0.9, char 1.7 font \",11\" "
        "tc rgb \"#202020\" notitle");
    if (!down.empty()) {
      s += gp_datablock("best_down", down);
      plots.push_back("$best_down using 1:2 with points pt 6 ps 2.6 lw 1.5 lc rgb \"black\" notitle");
      plots.push_back(
          "$best_down using 1:2:3 with labels boxed left offset char 0.9, char -1.7 font \",11\" "
          "tc rgb \"#202020\" notitle");
    }
  }
  if (dropped > 0) {
    s += "set label " +
         gp_quote(std::to_string(dropped) + " result(s) with context 0 not shown (log x)") +
         " at graph 0.01, graph 0.03 left font \",10\"\n";
  }
  s += "plot ";
  for (size_t i = 0; i < plots.size(); ++i) s += (i ? ", \\\n     " : "") + plots[i];
  s += "\n";
  render_gnuplot(s, out, o.width, o.height);
}

}  // namespace headscope::viz
