// The HTML report of one run directory (`headscope report DIR`): a single self-contained page
// (CSS, JavaScript, data and figures inline; nothing is fetched from the network) with
//  - the run's provenance: every JSON file's "provenance" block, else its top-level keys
//    (model, text, tokens, options, dates: whatever the files carry);
//  - the tables: eval results (JSON files with a top-level "perplexity") and the ablation table
//    (headscope.ablation/1 files), groups labelled by their titles;
//  - the figures plot_all can draw from the directory, as inline SVG (data: URIs);
//  - an interactive head explorer: a layer x head grid built from head_classifications.json
//    and/or head_statistics.json; clicking a head (or opening the page at #head=L.H) shows its
//    type, confidence, statistics and relative-position profile (an inline SVG chart).
#pragma once
#include <string>
#include <vector>

#include "viz/figures.h"

namespace headscope::viz {

struct ReportOptions {
  PlotOptions plot;      // size and options of the inlined figures
  bool figures = true;   // false: leave the figures out (no gnuplot run)
};

struct Report {
  std::string html;
  std::vector<std::string> notes;  // what was left out and why (also listed in the page)
};

// Builds the report of `dir`. Throws Error (one line) when `dir` is not a directory, has no
// analysis file (head_classifications.json / head_statistics.json), or a file is malformed.
// Figures that cannot be drawn (no gnuplot, no A/B pair, ...) become notes, not errors.
Report build_report(const std::string& dir, const ReportOptions& o = {});

// build_report, then writes the page to `out` through common/atomic_file.h.
Report write_report(const std::string& dir, const std::string& out, const ReportOptions& o = {});

// Text for HTML element content and attribute values (& < > " ' escaped).
std::string html_escape(const std::string& s);
// RFC 4648 base64 (for data: URIs).
std::string base64(const std::string& bytes);

}  // namespace headscope::viz
