// Confidence sweep of the groups built by the "confidence" builder: perplexity against the
// confidence threshold, one line per group and base window, with the reference group
// (StreamingLLM) at the matching context as horizontal reference lines.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "common/error.h"
#include "viz/figures.h"
#include "viz/style.h"

namespace headscope::viz {

namespace {

const std::vector<std::string> kLineColours = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a",
                                               "#66a61e", "#e6ab02", "#a6761d", "#666666"};

// Results of the confidence builder that carry a threshold and a base window, by (group in
// list order, base window).
using LineKey = std::pair<size_t, double>;
std::map<LineKey, std::vector<const AblationResult*>> sweep_lines(const AblationFile& f) {
  std::map<LineKey, std::vector<const AblationResult*>> m;
  for (const auto& r : f.results) {
    if (r.param_string("builder") != "confidence" || r.group == f.reference_group) continue;
    double t = r.param_number("threshold"), w = r.param_number("base_window");
    if (std::isfinite(t) && std::isfinite(w)) m[{f.group_index(r.group), w}].push_back(&r);
  }
  for (auto& [w, rs] : m)
    std::sort(rs.begin(), rs.end(), [](const AblationResult* a, const AblationResult* b) {
      return a->param_number("threshold") < b->param_number("threshold");
    });
  return m;
}

// The reference result at nominal context `w`, else the reference result whose measured context
// is closest to `ctx`; nullptr without reference results.
const AblationResult* matching_b(const AblationFile& f, double w, double ctx, bool* exact) {
  const AblationResult* best = nullptr;
  double dist = INFINITY;
  for (const auto* r : f.group(f.reference_group)) {
    if (std::lround(r->context_key()) == std::lround(w) && std::isfinite(r->context_key())) {
      *exact = true;
      return r;
    }
    double d = std::fabs(r->measured_context - ctx);
    if (d < dist) dist = d, best = r;
  }
  *exact = false;
  return best;
}

}  // namespace

std::string why_no_confidence(const AblationFile& f) {
  if (!sweep_lines(f).empty()) return "";
  size_t g = 0;
  for (const auto& r : f.results) g += r.param_string("builder") == "confidence";
  return g == 0 ? "needs results of the confidence builder (params.builder = confidence)"
                : "confidence-builder results lack params.threshold/params.base_window";
}

void plot_confidence(const AblationFile& f, const std::string& out, const PlotOptions& o) {
  format_for_path(out);
  const auto lines = sweep_lines(f);
  require(!lines.empty(), f.path + ": confidence figure " + why_no_confidence(f));

  std::vector<double> ys;
  if (f.has_dense()) ys.push_back(f.dense_perplexity);
  size_t npoints = 0;
  std::string sweep_groups;
  std::set<size_t> listed;
  for (const auto& [k, rs] : lines) {
    for (const auto* r : rs) ys.push_back(r->perplexity);
    if (listed.insert(k.first).second)
      sweep_groups += (sweep_groups.empty() ? "" : ", ") + f.groups[k.first].id;
    npoints += rs.size();
  }
  struct Ref {
    const AblationResult* b;
    bool exact;
    size_t colour;
  };
  std::vector<Ref> refs;
  std::set<const AblationResult*> seen;
  size_t li = 0;
  for (const auto& [k, rs] : lines) {
    const double w = k.second;
    double mean_ctx = 0;
    for (const auto* r : rs) mean_ctx += r->measured_context;
    mean_ctx /= double(rs.size());
    bool exact = false;
    const AblationResult* b = matching_b(f, w, mean_ctx, &exact);
    if (b && seen.insert(b).second) {
      refs.push_back({b, exact, li});
      ys.push_back(b->perplexity);
    }
    ++li;
  }
  const bool logy = wants_log(ys, 20.0);

  std::string s = common_header("Confidence sweep (group " + sweep_groups +
                                    "): perplexity vs confidence threshold",
                                f.info.describe());
  s += "set xlabel \"confidence threshold\"\n";
  s += std::string("set ylabel \"perplexity") + (logy ? " (log scale)" : "") +
       " (lower is better)\"\n";
  if (logy) s += log_axis("y", *std::min_element(ys.begin(), ys.end()),
                          *std::max_element(ys.begin(), ys.end()));
  double tlo = INFINITY, thi = -INFINITY;
  for (const auto& [k, rs] : lines)
    for (const auto* r : rs) {
      tlo = std::min(tlo, r->param_number("threshold"));
      thi = std::max(thi, r->param_number("threshold"));
    }
  const double pad = thi > tlo ? 0.06 * (thi - tlo) : 0.05;
  s += "set xrange [" + gp_num(tlo - pad) + ":" + gp_num(thi + pad) + "]\n";
  s += "set offsets 0, 0, graph 0.1, graph 0.1\n";
  // Legend in two columns under the x label.
  const size_t entries = lines.size() + refs.size() + 1;
  const size_t rows = (entries + 1) / 2;
  s += "set key at screen 0.5, screen 0.012 center bottom vertical maxrows " +
       std::to_string(rows) + "\n";
  s += "set bmargin " + std::to_string(4 + rows + 1) + "\n";
  if (npoints <= 40)
    s += "set label 1 \"point labels: measured context (tokens)\" at graph 0.01, graph 0.03 "
         "left font \",10\" tc rgb \"#505050\"\n";

  std::vector<std::string> plots;
  li = 0;
  for (const auto& [k, rs] : lines) {
    const double w = k.second;
    std::vector<std::string> dl;
    for (const auto* r : rs)
      dl.push_back(gp_num(r->param_number("threshold")) + " " + gp_num(r->perplexity) + " " +
                   gp_data_string(fmt("%.0f", r->measured_context)));
    const std::string block = "w" + std::to_string(li);
    s += gp_datablock(block, dl);
    const std::string c = kLineColours[li % kLineColours.size()];
    plots.push_back("$" + block + " using 1:2 with linespoints lw 2.5 pt 7 ps 1.3 lc rgb \"" + c +
                    "\" title " + gp_quote(f.groups[k.first].id + ", base window " + fmt("%g", w)));
    if (npoints <= 40)
      plots.push_back("$" + block + " using 1:2:3 with labels offset char 0, char 1 font \",10\" "
                      "tc rgb \"" + c + "\" notitle");
    ++li;
  }
  for (const auto& r : refs) {
    const std::string c = kLineColours[r.colour % kLineColours.size()];
    std::string t = f.reference_group + ": " + r.b->name + (r.exact ? "" : " (nearest context)") + ", PPL " +
                    fmt("%.2f", r.b->perplexity);
    plots.push_back(gp_num(r.b->perplexity) + " with lines dt 2 lw 2 lc rgb \"" + c +
                    "\" title " + gp_quote(t));
  }
  if (f.has_dense())
    plots.push_back(gp_num(f.dense_perplexity) + " with lines dt 3 lw 1.5 lc rgb \"black\" title " +
                  gp_quote("dense (PPL " + fmt("%.2f", f.dense_perplexity) + ")"));
  s += "plot ";
  for (size_t i = 0; i < plots.size(); ++i) s += (i ? ", \\\n     " : "") + plots[i];
  s += "\n";
  render_gnuplot(s, out, o.width, o.height);
}

}  // namespace headscope::viz
