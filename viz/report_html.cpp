#include "viz/report_html.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "common/atomic_file.h"
#include "common/error.h"
#include "viz/ablation_file.h"
#include "viz/head_files.h"
#include "viz/json_input.h"
#include "viz/style.h"

namespace headscope::viz {
namespace fs = std::filesystem;

std::string html_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string o;
  o.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (unsigned(uint8_t(in[i])) << 16) | (unsigned(uint8_t(in[i + 1])) << 8) |
                       unsigned(uint8_t(in[i + 2]));
    o += k[(v >> 18) & 63];
    o += k[(v >> 12) & 63];
    o += k[(v >> 6) & 63];
    o += k[v & 63];
  }
  if (i < in.size()) {
    unsigned v = unsigned(uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) v |= unsigned(uint8_t(in[i + 1])) << 8;
    o += k[(v >> 18) & 63];
    o += k[(v >> 12) & 63];
    o += i + 1 < in.size() ? k[(v >> 6) & 63] : '=';
    o += '=';
  }
  return o;
}

namespace {

// ---- reading the directory -------------------------------------------------------------------

struct JsonFile {
  std::string name, path;
  nlohmann::json j;
};

// The *.json files directly in `dir`, by name; unreadable or malformed ones become notes.
std::vector<JsonFile> json_files(const std::string& dir, std::vector<std::string>& notes) {
  std::vector<JsonFile> out;
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".json") == 0 && e.is_regular_file(ec))
      names.push_back(n);
  }
  require(!ec, "cannot list " + dir + ": " + ec.message());
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    JsonFile f;
    f.name = n;
    f.path = (fs::path(dir) / n).string();
    try {
      f.j = load_json_object(f.path);
    } catch (const Error& e) {
      notes.push_back(std::string("left out ") + n + ": " + e.what());
      continue;
    }
    out.push_back(std::move(f));
  }
  return out;
}

bool is_ablation(const nlohmann::json& j) {
  return j.contains("schema") && j["schema"].is_string() && j["schema"] == kAblationSchema;
}
bool is_eval(const nlohmann::json& j) {
  return !is_ablation(j) && j.contains("perplexity") && j["perplexity"].is_number();
}

// A short text for a JSON value in a table cell.
std::string value_text(const nlohmann::json& v, size_t max = 240) {
  std::string s;
  if (v.is_string()) s = v.get<std::string>();
  else if (v.is_number_float()) s = fmt("%.6g", v.get<double>());
  else s = v.dump();
  if (s.size() > max) s = s.substr(0, max) + " ...";
  return s;
}

// Provenance rows of one file: its "provenance" block when it has one, else its top-level keys
// (objects one level deep), leaving out the per-head and per-result lists.
void provenance_rows(const nlohmann::json& j, std::vector<std::pair<std::string, std::string>>& rows) {
  static const std::set<std::string> lists = {"classifications", "head_statistics", "results"};
  const nlohmann::json& src = j.contains("provenance") && j["provenance"].is_object() ? j["provenance"] : j;
  for (auto it = src.begin(); it != src.end(); ++it) {
    if (&src == &j && lists.count(it.key())) continue;
    if (it->is_object()) {
      for (auto in = it->begin(); in != it->end(); ++in)
        rows.emplace_back(it.key() + "." + in.key(), value_text(*in));
    } else if (it->is_array() && it->size() > 16) {
      rows.emplace_back(it.key(), "(" + std::to_string(it->size()) + " entries)");
    } else {
      rows.emplace_back(it.key(), value_text(*it));
    }
  }
}

// ---- figures into a private temporary directory ----------------------------------------------

class TempDir {
 public:
  std::string path;
  TempDir() {
    std::error_code ec;
    fs::path base = fs::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string t = (base / "headscope-report-XXXXXX").string();
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back('\0');
    require(::mkdtemp(buf.data()) != nullptr,
            "cannot create a temporary directory in " + base.string() + ": " + std::strerror(errno));
    path = buf.data();
  }
  ~TempDir() {
    if (DIR* d = ::opendir(path.c_str())) {
      while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") ::unlink((path + "/" + n).c_str());
      }
      ::closedir(d);
    }
    ::rmdir(path.c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

const std::map<std::string, std::string>& figure_captions() {
  static const std::map<std::string, std::string> c = {
      {"ppl_vs_context", "Perplexity against the measured effective context, every group"},
      {"sink_importance", "Window only against sink + window at equal nominal context"},
      {"confidence_sweep", "Confidence-builder sweep: perplexity against the threshold"},
      {"head_map", "Head types by layer and head"},
      {"heatmap_entropy", "Mean attention entropy per head"},
      {"heatmap_sink", "Sink ratio per head"},
      {"heatmap_local", "Local ratio per head"},
      {"heatmap_relpos", "Relative-position profile per head"}};
  return c;
}

// ---- the page ---------------------------------------------------------------------------------

const char* kCss = R"CSS(
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:0 auto;max-width:1200px;padding:0 18px 40px;color:#1a1a1a}
h1{font-size:1.5em;margin:18px 0 4px}h2{font-size:1.2em;margin:28px 0 8px;border-bottom:1px solid #ccc}
table.t{border-collapse:collapse;font-size:13px;margin:6px 0}table.t td,table.t th{border:1px solid #d0d0d0;padding:2px 7px;text-align:left}
table.t th{background:#f2f2f2}table.t td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#555;font-size:13px}figure{margin:14px 0}figure img{max-width:100%;border:1px solid #e0e0e0}
figcaption{font-size:13px;color:#333}#explorer{display:flex;gap:22px;align-items:flex-start;flex-wrap:wrap}
#grid{border-collapse:collapse;font-size:11px}#grid th{font-weight:normal;color:#555;padding:1px 4px}
#grid td{padding:1px}.cell{width:34px;height:26px;border:1px solid #fff;cursor:pointer;font-size:10px;padding:0}
.cell.sel{outline:3px solid #000;outline-offset:-1px}#panel{min-width:330px;max-width:520px;font-size:13px}
#panel h3{margin:4px 0 8px}.key{display:inline-block;margin:2px 8px 2px 0;font-size:12px}
.sw{display:inline-block;width:12px;height:12px;vertical-align:middle;margin-right:3px;border:1px solid #999}
)CSS";

const char* kScript = R"JS(
(function(){
const D = JSON.parse(document.getElementById('hs-data').textContent);
function esc(s){return String(s).replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));}
function num(v){return (typeof v==='number')?(Number.isInteger(v)?String(v):v.toPrecision(4)):(v===null?'n/a':(typeof v==='object'?JSON.stringify(v):String(v)));}
function chart(p){
  if(!p||!p.length) return '<p class="note">no relative-position profile (no head_statistics.json)</p>';
  const W=440,H=170,L=46,B=30,T=8,R=8,w=W-L-R,h=H-T-B;
  let mx=0; for(const v of p) if(typeof v==='number'&&v>mx) mx=v; if(!(mx>0)) mx=1;
  const bw=w/p.length; let bars='';
  p.forEach((v,d)=>{const y=(typeof v==='number'?v:0)/mx*h;
    bars+='<rect x="'+(L+d*bw).toFixed(2)+'" y="'+(T+h-y).toFixed(2)+'" width="'+Math.max(bw-0.6,0.6).toFixed(2)+'" height="'+y.toFixed(2)+'" fill="#0072B2"><title>distance '+d+': '+num(v)+'</title></rect>';});
  let ax='<line x1="'+L+'" y1="'+(T+h)+'" x2="'+(L+w)+'" y2="'+(T+h)+'" stroke="#333"/><line x1="'+L+'" y1="'+T+'" x2="'+L+'" y2="'+(T+h)+'" stroke="#333"/>';
  for(const d of [0,Math.floor((p.length-1)/2),p.length-1]) ax+='<text x="'+(L+(d+0.5)*bw).toFixed(1)+'" y="'+(T+h+13)+'" font-size="10" text-anchor="middle">'+d+'</text>';
  ax+='<text x="'+(L-4)+'" y="'+(T+8)+'" font-size="10" text-anchor="end">'+num(mx)+'</text><text x="'+(L-4)+'" y="'+(T+h)+'" font-size="10" text-anchor="end">0</text>';
  ax+='<text x="'+(L+w/2)+'" y="'+(H-3)+'" font-size="10" text-anchor="middle">distance: query - key position (tokens)</text>';
  return '<svg id="p-relpos" width="'+W+'" height="'+H+'" viewBox="0 0 '+W+' '+H+'" role="img" aria-label="relative-position profile">'+bars+ax+'</svg>';
}
function show(key){
  const c=D.cells[key]; if(!c) return;
  document.querySelectorAll('.cell.sel').forEach(e=>e.classList.remove('sel'));
  const b=document.querySelector('[data-head="'+key+'"]'); if(b) b.classList.add('sel');
  const [l,h]=key.split('.');
  let s='<h3 id="p-head">layer '+esc(l)+', head '+esc(h)+'</h3><table class="t">';
  const cls=c.cls||{}, st=c.stats||{};
  s+='<tr><th>type</th><td><span id="p-type">'+esc(cls.head_type!==undefined?cls.head_type:'n/a')+'</span></td></tr>';
  s+='<tr><th>confidence</th><td><span id="p-confidence">'+(typeof cls.confidence==='number'?cls.confidence.toFixed(4):'n/a')+'</span></td></tr>';
  for(const k of Object.keys(cls)) if(k!=='head_type'&&k!=='confidence') s+='<tr><th>'+esc(k)+'</th><td>'+esc(num(cls[k]))+'</td></tr>';
  s+='</table><h3>statistics</h3><table class="t" id="p-stats">';
  const sk=Object.keys(st); if(!sk.length) s+='<tr><td class="note">no head_statistics.json</td></tr>';
  for(const k of sk) s+='<tr><th>'+esc(k)+'</th><td>'+esc(num(st[k]))+'</td></tr>';
  s+='</table><h3>relative-position profile</h3>'+chart(c.relpos);
  document.getElementById('panel').innerHTML=s;
}
const g=document.getElementById('grid');
let hd='<tr><th></th>'; for(let h=0;h<D.heads;h++) hd+='<th>h'+h+'</th>'; g.insertAdjacentHTML('beforeend',hd+'</tr>');
for(let l=0;l<D.layers;l++){
  let r='<tr><th>L'+l+'</th>';
  for(let h=0;h<D.heads;h++){
    const key=l+'.'+h, c=D.cells[key]||{}, t=c.cls?c.cls.head_type:null, ty=t!==null&&D.types[t]?D.types[t]:null;
    const bg=ty?ty.colour:'#bdbdbd', fg=ty?ty.text:'#101010', tag=ty?ty.tag:'?';
    r+='<td><button class="cell" type="button" data-head="'+key+'" style="background:'+bg+';color:'+fg+'" title="layer '+l+', head '+h+(t?': '+esc(t):'')+'">'+esc(tag)+'</button></td>';
  }
  g.insertAdjacentHTML('beforeend',r+'</tr>');
}
g.addEventListener('click',e=>{const b=e.target.closest('.cell'); if(!b) return; show(b.dataset.head);
  if(location.hash!=='#head='+b.dataset.head) history.replaceState(null,'','#head='+b.dataset.head);});
function fromHash(){const m=/head=(\d+)\.(\d+)/.exec(location.hash); if(!m) return;
  const b=document.querySelector('[data-head="'+(+m[1])+'.'+(+m[2])+'"]'); if(!b) return;
  b.click(); document.getElementById('explorer-h').scrollIntoView();}
window.addEventListener('hashchange',fromHash); fromHash();
})();
)JS";

std::string th_row(const std::vector<std::string>& cols) {
  std::string s = "<tr>";
  for (const auto& c : cols) s += "<th>" + html_escape(c) + "</th>";
  return s + "</tr>";
}

std::string td(const std::string& v, bool numeric = false) {
  return std::string(numeric ? "<td class=\"n\">" : "<td>") + html_escape(v) + "</td>";
}

std::string num_cell(const nlohmann::json& o, const char* key, const char* f = "%.4g") {
  if (!o.contains(key) || !o[key].is_number()) return td("");
  return td(fmt(f, o[key].get<double>()), true);
}

// The explorer's data: per "L.H" the classification entry, the statistics entry (without its
// profile) and the relative-position profile.
nlohmann::json explorer_data(const std::optional<JsonFile>& cls, const std::optional<JsonFile>& st,
                             int64_t layers, int64_t heads) {
  nlohmann::json d;
  d["layers"] = layers;
  d["heads"] = heads;
  nlohmann::json cells = nlohmann::json::object();
  auto key = [](const nlohmann::json& o) {
    return std::to_string(o["layer_idx"].get<int64_t>()) + "." +
           std::to_string(o["head_idx"].get<int64_t>());
  };
  std::set<std::string> types;
  if (cls)
    for (const auto& o : cls->j["classifications"]) {
      nlohmann::json c = o;
      c.erase("layer_idx");
      c.erase("head_idx");
      if (c.contains("head_type") && c["head_type"].is_string()) types.insert(c["head_type"]);
      cells[key(o)]["cls"] = c;
    }
  if (st)
    for (const auto& o : st->j["head_statistics"]) {
      nlohmann::json c = o;
      c.erase("layer_idx");
      c.erase("head_idx");
      if (c.contains("relative_position_dist")) {
        cells[key(o)]["relpos"] = c["relative_position_dist"];
        c.erase("relative_position_dist");
      }
      cells[key(o)]["stats"] = c;
    }
  d["cells"] = cells;
  nlohmann::json tj = nlohmann::json::object();
  auto entry = [](const std::string& t, const std::string& col) {
    return nlohmann::json{{"colour", col},
                          {"tag", head_type_tag(t)},
                          {"text", text_colour_on(parse_rgb(col)) == 0xffffff ? "#ffffff" : "#101010"}};
  };
  size_t extra = 0;
  for (const auto& t : known_head_types())
    if (types.count(t)) tj[t] = entry(t, head_type_colour(t, 0));
  for (const auto& t : types)
    if (!tj.contains(t)) tj[t] = entry(t, head_type_colour(t, extra++));
  d["types"] = tj;
  return d;
}

// JSON for a <script type="application/json"> element: "</" cannot end the element early.
std::string script_safe(const std::string& json) {
  std::string o;
  o.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '<' && i + 1 < json.size() && json[i + 1] == '/') {
      o += "<\\/";
      ++i;
    } else {
      o += json[i];
    }
  }
  return o;
}

}  // namespace

Report build_report(const std::string& dir, const ReportOptions& o) {
  std::error_code ec;
  require(fs::is_directory(dir, ec), dir + " is not a directory (headscope report needs a run directory)");
  Report rep;
  std::vector<JsonFile> files = json_files(dir, rep.notes);
  std::optional<JsonFile> cls, st;
  std::vector<const JsonFile*> ablations, evals;
  for (const auto& f : files) {
    if (f.name == "head_classifications.json") cls = f;
    else if (f.name == "head_statistics.json") st = f;
    else if (is_ablation(f.j)) ablations.push_back(&f);
    else if (is_eval(f.j)) evals.push_back(&f);
  }
  require(cls || st, dir + " has no analysis files (head_classifications.json or head_statistics.json; "
                           "run headscope analyze --out " + dir + " first)");
  // Validated views (throw on malformed files).
  std::optional<HeadTypeGrid> types;
  std::optional<HeadStatsGrid> stats;
  if (cls) types = read_head_types(cls->path);
  if (st) stats = read_head_stats(st->path);
  if (types && stats)
    require(types->layers == stats->layers && types->heads == stats->heads,
            dir + ": head_classifications.json has " + std::to_string(types->layers) + " x " +
                std::to_string(types->heads) + " heads, head_statistics.json " +
                std::to_string(stats->layers) + " x " + std::to_string(stats->heads));
  const int64_t layers = types ? types->layers : stats->layers;
  const int64_t heads = types ? types->heads : stats->heads;
  std::vector<AblationFile> abl;
  for (const auto* f : ablations) abl.push_back(read_ablation(f->path));

  RunInfo info = types ? types->info : stats->info;
  if (info.empty() && !abl.empty()) info = abl.front().info;
  const std::string title = "headscope report: " + (info.empty() ? fs::path(dir).filename().string() : info.describe());

  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<title>" + html_escape(title) + "</title>\n<style>" + std::string(kCss) + "</style></head>\n<body>\n";
  h += "<h1>" + html_escape(title) + "</h1>\n";
  {
    char when[32];
    std::time_t now = std::time(nullptr);
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    h += "<p class=\"note\">Directory " + html_escape(dir) + "; " + std::to_string(layers) +
         " layers x " + std::to_string(heads) + " heads; report written " + when +
         " by headscope " HEADSCOPE_VERSION ". Self-contained: no network access needed.</p>\n";
  }
  h += "<nav class=\"note\"><a href=\"#provenance\">provenance</a> | <a href=\"#tables\">tables</a> | "
       "<a href=\"#figures\">figures</a> | <a href=\"#explorer-h\">head explorer</a></nav>\n";

  // Head explorer first after the summary? Keep the order the issue names: provenance, tables,
  // figures, explorer.
  h += "<h2 id=\"provenance\">Provenance</h2>\n";
  for (const auto& f : files) {
    std::vector<std::pair<std::string, std::string>> rows;
    provenance_rows(f.j, rows);
    h += "<h3>" + html_escape(f.name) + "</h3>\n";
    if (rows.empty()) {
      h += "<p class=\"note\">no run metadata in this file</p>\n";
      continue;
    }
    h += "<table class=\"t prov\">" + th_row({"key", "value"});
    for (const auto& [k, v] : rows) h += "<tr>" + td(k) + td(v) + "</tr>";
    h += "</table>\n";
  }

  h += "<h2 id=\"tables\">Tables</h2>\n";
  if (!evals.empty()) {
    // Columns: the union of the files' scalar top-level keys, in order of first appearance.
    std::vector<std::string> cols;
    for (const auto* f : evals)
      for (auto it = f->j.begin(); it != f->j.end(); ++it)
        if (!it->is_structured() && std::find(cols.begin(), cols.end(), it.key()) == cols.end())
          cols.push_back(it.key());
    h += "<h3>Evaluation results</h3>\n<table class=\"t\" id=\"eval-table\">";
    std::vector<std::string> head = {"file"};
    head.insert(head.end(), cols.begin(), cols.end());
    h += th_row(head);
    for (const auto* f : evals) {
      h += "<tr>" + td(f->name);
      for (const auto& c : cols) {
        if (!f->j.contains(c)) h += td("");
        else h += td(value_text(f->j[c]), f->j[c].is_number());
      }
      h += "</tr>";
    }
    h += "</table>\n";
  } else {
    h += "<p class=\"note\">No evaluation result file (a JSON with a top-level \"perplexity\").</p>\n";
  }
  for (size_t a = 0; a < abl.size(); ++a) {
    const AblationFile& f = abl[a];
    const nlohmann::json& raw = ablations[a]->j;
    h += "<h3>Ablation: " + html_escape(ablations[a]->name) + "</h3>\n";
    h += "<p class=\"note\">" + std::to_string(f.results.size()) + " configurations" +
         (f.has_dense() ? ", dense perplexity " + fmt("%.3f", f.dense_perplexity) : std::string()) +
         "; reference group " + html_escape(f.reference_group) +
         ". Context: measured_context = mean keys each query saw.</p>\n";
    h += "<table class=\"t\" id=\"ablation-table\">" +
         th_row({"group", "name", "builder", "perplexity", "accuracy", "nominal context",
                 "measured context", "tokens/s"});
    for (const auto& g : ordered_groups(f)) {
      std::vector<const nlohmann::json*> rs;
      for (const auto& r : raw["results"])
        if (r.is_object() && r.value("group", std::string()) == g) rs.push_back(&r);
      std::stable_sort(rs.begin(), rs.end(), [](const nlohmann::json* x, const nlohmann::json* y) {
        return x->value("measured_context", 0.0) < y->value("measured_context", 0.0);
      });
      const std::string colour = group_colour(f, g);
      for (const auto* r : rs) {
        std::string builder;
        if (r->contains("params") && (*r)["params"].is_object())
          builder = (*r)["params"].value("builder", std::string());
        h += "<tr><td><span class=\"sw\" style=\"background:" + html_escape(colour) + "\"></span>" +
             html_escape(group_label(f, g)) + "</td>" + td(r->value("name", std::string())) +
             td(builder) + num_cell(*r, "perplexity", "%.3f") + num_cell(*r, "accuracy", "%.4f") +
             num_cell(*r, "nominal_context", "%.1f") + num_cell(*r, "measured_context", "%.1f") +
             num_cell(*r, "tokens_per_s", "%.0f") + "</tr>";
      }
    }
    h += "</table>\n";
    for (const auto& n : f.notes) rep.notes.push_back(ablations[a]->name + ": " + n);
  }
  if (abl.empty()) h += "<p class=\"note\">No ablation results file (schema headscope.ablation/1).</p>\n";

  h += "<h2 id=\"figures\">Figures</h2>\n";
  if (o.figures) {
    try {
      TempDir tmp;
      PlotAllInputs in;
      if (!ablations.empty()) in.ablation = ablations.front()->path;
      if (cls) in.classifications = cls->path;
      if (st) in.stats = st->path;
      PlotAllReport pr = plot_all(in, tmp.path, "svg", o.plot);
      for (const auto& p : pr.written) {
        const std::string name = fs::path(p).stem().string();
        auto cap = figure_captions().find(name);
        h += "<figure id=\"fig-" + html_escape(name) + "\"><img alt=\"" + html_escape(name) +
             "\" src=\"data:image/svg+xml;base64," + base64(read_file(p)) + "\"><figcaption>" +
             html_escape(cap == figure_captions().end() ? name : cap->second) +
             "</figcaption></figure>\n";
      }
      for (const auto& s : pr.skipped)
        if (s.find("no input given") == std::string::npos) rep.notes.push_back("figure skipped: " + s);
    } catch (const Error& e) {
      rep.notes.push_back(std::string("figures left out: ") + e.what());
      h += "<p class=\"note\">Figures left out: " + html_escape(e.what()) + "</p>\n";
    }
  } else {
    h += "<p class=\"note\">Figures left out (--no-figures).</p>\n";
  }

  h += "<h2 id=\"explorer-h\">Head explorer</h2>\n";
  h += "<p class=\"note\">Click a head (or open this page at #head=LAYER.HEAD) to see its type, "
       "confidence, statistics and relative-position profile. Colours: head type (Okabe-Ito, "
       "colour-blind safe); the tag in each cell names the type.</p>\n<div>";
  if (types) {
    std::map<std::string, int> count;
    for (const auto& c : types->cells) ++count[c.type];
    size_t extra = 0;
    std::vector<std::string> order;
    for (const auto& t : known_head_types())
      if (count.count(t)) order.push_back(t);
    for (const auto& [t, n] : count)
      if (std::find(order.begin(), order.end(), t) == order.end()) order.push_back(t);
    for (const auto& t : order) {
      const bool known = std::find(known_head_types().begin(), known_head_types().end(), t) !=
                         known_head_types().end();
      h += "<span class=\"key\"><span class=\"sw\" style=\"background:" +
           html_escape(head_type_colour(t, known ? 0 : extra++)) + "\"></span>" +
           html_escape(head_type_tag(t) + " " + t + " (" + std::to_string(count[t]) + ")") +
           "</span>";
    }
  }
  h += "</div>\n<div id=\"explorer\"><table id=\"grid\"></table><div id=\"panel\"><p class=\"note\">"
       "No head selected.</p></div></div>\n";
  if (!rep.notes.empty()) {
    h += "<h2>Notes</h2>\n<ul class=\"note\" id=\"notes\">";
    for (const auto& n : rep.notes) h += "<li>" + html_escape(n) + "</li>";
    h += "</ul>\n";
  }
  h += "<script type=\"application/json\" id=\"hs-data\">" +
       script_safe(explorer_data(cls, st, layers, heads).dump()) + "</script>\n";
  h += "<script>" + std::string(kScript) + "</script>\n</body></html>\n";
  rep.html = std::move(h);
  return rep;
}

Report write_report(const std::string& dir, const std::string& out, const ReportOptions& o) {
  resolve_output(out);  // a directory or a bad path fails before the work
  Report r = build_report(dir, o);
  write_file_atomic(out, r.html);
  return r;
}

}  // namespace headscope::viz
