// Perplexity versus measured effective context, every ablation group on one figure.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/error.h"
#include "viz/figures.h"
#include "viz/style.h"

namespace headscope::viz {

namespace {

// The reference group's (StreamingLLM) perplexity at context x: linear in log(context) between B's points,
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

// The head-aware results worth a label: those that no other head-aware result beats (lower
// perplexity) with an equal or smaller measured context, ranked by their perplexity relative to
// the reference group at the same context (plain perplexity without it), taking
// at most `max_labels` that lie at clearly different contexts (ratio > 1.3), in context order.
std::vector<const AblationResult*> best_head_aware(const std::vector<const AblationResult*>& pts,
                                                   const std::string& reference,
                                                   size_t max_labels) {
  auto by_context = [](const AblationResult* a, const AblationResult* b) {
    if (a->measured_context != b->measured_context) return a->measured_context < b->measured_context;
    return a->perplexity < b->perplexity;
  };
  std::vector<const AblationResult*> c, b;
  for (const auto* r : pts) {
    if (head_aware_result(*r) && r->group != reference) c.push_back(r);
    if (r->group == reference) b.push_back(r);
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

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const size_t i = size_t(pos);
  const double t = pos - double(i);
  return i + 1 < v.size() ? v[i] + t * (v[i + 1] - v[i]) : v[i];
}

// Perplexities above twice the median of all results are outliers (a diverged or degenerate
// configuration): they would squash the range where the comparison happens. Perplexity is a
// ratio scale, so the cut is a ratio; none with fewer than 4 results.
double outlier_fence(const std::vector<double>& ys) {
  if (ys.size() < 4) return INFINITY;
  return 2.0 * quantile(ys, 0.5);
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

  // Outliers (far above the rest) would squash the interesting range: clip them.
  std::vector<double> all_y;
  for (const auto* r : pts) all_y.push_back(r->perplexity);
  const double fence = outlier_fence(all_y);
  std::vector<const AblationResult*> above;
  double ylo = f.has_dense() ? f.dense_perplexity : INFINITY, yhi = -INFINITY;
  for (const auto* r : pts) {
    if (r->perplexity > fence) {
      above.push_back(r);
      continue;
    }
    ylo = std::min(ylo, r->perplexity);
    yhi = std::max(yhi, r->perplexity);
  }
  if (f.has_dense()) yhi = std::max(yhi, f.dense_perplexity);

  std::string s = common_header("Perplexity vs effective KV context", f.info.describe());
  s += "set xlabel \"effective context: keys visible per query, measured mean (tokens)" +
       std::string(o.logx ? ", log scale" : "") + "\"\n";
  s += "set ylabel \"perplexity (lower is better)\"\n";
  if (o.logx) s += "set logscale x 2\nset format x \"%g\"\n";
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
  double ytop = yhi;
  if (!above.empty()) {
    // Fixed y range; the clipped results sit on a band at the top edge.
    const double span = yhi > ylo ? yhi - ylo : std::max(1.0, 0.05 * yhi);
    ytop = yhi + 0.07 * span;
    s += "set yrange [" + gp_num(ylo - 0.08 * span) + ":" + gp_num(yhi + 0.17 * span) + "]\n";
    s += "set style textbox opaque noborder margins 0.5, 0.3\n";
  } else {
    s += "set offsets 0, 0, graph 0.08, graph 0.06\n";
  }
  const auto groups = ordered_groups(f);
  std::vector<std::string> plots;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const std::string& g = groups[gi];
    std::vector<const AblationResult*> rs;
    for (const auto* r : pts)
      if (r->group == g && !(r->perplexity > fence)) rs.push_back(r);
    size_t clipped = 0;
    for (const auto* r : above) clipped += r->group == g;
    if (rs.empty()) {
      if (clipped > 0)  // every point off the scale: still one legend entry for the group
        plots.push_back("keyentry with points pt " + std::to_string(group_point_type(f, g)) +
                        " ps 1.5 lc rgb \"" + group_colour(f, g) + "\" title " +
                        gp_quote(group_label(f, g) + " (" + std::to_string(clipped) + ", off scale)"));
      continue;
    }
    std::sort(rs.begin(), rs.end(), [](const AblationResult* a, const AblationResult* b) {
      return a->measured_context < b->measured_context;
    });
    std::vector<std::string> lines;
    for (const auto* r : rs)
      lines.push_back(gp_num(r->measured_context) + " " + gp_num(r->perplexity) + " " +
                      gp_data_string(r->name));
    const std::string block = "g" + std::to_string(gi);
    s += gp_datablock(block, lines);
    const std::string colour = group_colour(f, g);
    const int pt = group_point_type(f, g);
    const std::string title = group_label(f, g) + " (" + std::to_string(rs.size() + clipped) + ")";
    if (g == f.reference_group) {
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

  std::vector<const AblationResult*> in_range;
  for (const auto* r : pts)
    if (!(r->perplexity > fence)) in_range.push_back(r);
  const auto best = best_head_aware(in_range, f.reference_group, 5);
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
  if (!above.empty()) {
    // Each clipped result: a triangle in its group's colour on a band at the top edge; the note
    // lists them with their values (labels beside the triangles would collide).
    std::vector<std::string> lines;
    std::sort(above.begin(), above.end(), [](const AblationResult* a, const AblationResult* b) {
      return a->perplexity > b->perplexity;
    });
    std::string listed;
    for (size_t i = 0; i < above.size(); ++i) {
      const auto* r = above[i];
      lines.push_back(gp_num(r->measured_context) + " " + gp_num(ytop) + " " +
                      std::to_string(rgb_int(parse_rgb(group_colour(f, r->group)))));
      if (i < 4) listed += (i ? ", " : "") + r->name + " " + fmt("%.1f", r->perplexity);
    }
    if (above.size() > 4) listed += ", ... (" + std::to_string(above.size() - 4) + " more)";
    s += gp_datablock("clipped", lines);
    plots.push_back("$clipped using 1:2:3 with points pt 9 ps 1.6 lc rgb variable title " +
                    gp_quote("off scale: PPL above " + fmt("%.1f", fence) + ", drawn at the top"));
    s += "set label " +
         gp_quote(std::to_string(above.size()) + " outlier(s) clipped (PPL above " +
                  fmt("%.1f", fence) + " = 2 x median): " + listed) +
         " at graph 0.01, graph 0.975 left front boxed font \",10\" tc rgb \"#303030\"\n";
  }
  // The legend below the plot, in two columns: it covers no point.
  size_t entries = 0;
  for (const auto& p : plots) entries += p.find(" notitle") == std::string::npos;
  const size_t rows = std::max<size_t>(1, (entries + 1) / 2);
  s += "set key at screen 0.5, screen 0.012 center bottom vertical maxrows " +
       std::to_string(rows) + " font \",11\"\n";
  s += "set bmargin " + std::to_string(4 + rows + 1) + "\n";
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
