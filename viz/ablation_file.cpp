#include "viz/ablation_file.h"

#include <cctype>
#include <cmath>

#include "common/error.h"

namespace headscope::viz {

double AblationResult::param_number(const char* key) const {
  if (!params.is_object()) return std::nan("");
  auto it = params.find(key);
  if (it == params.end() || !it->is_number()) return std::nan("");
  return it->get<double>();
}

std::string AblationResult::param_string(const char* key) const {
  if (!params.is_object()) return "";
  auto it = params.find(key);
  if (it == params.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

double AblationResult::context_key() const {
  if (std::isfinite(nominal_context)) return std::round(nominal_context);
  double w = param_number("window");
  if (!std::isfinite(w)) return std::nan("");
  double sink = param_number("sink");
  return std::round(w + (std::isfinite(sink) ? sink : 0.0));
}

std::vector<const AblationResult*> AblationFile::group(const std::string& g) const {
  std::vector<const AblationResult*> out;
  for (const auto& r : results)
    if (r.group == g) out.push_back(&r);
  return out;
}

size_t AblationFile::group_index(const std::string& g) const {
  for (size_t i = 0; i < groups.size(); ++i)
    if (groups[i].id == g) return i;
  return groups.size();
}

const AblationGroupInfo* AblationFile::group_info(const std::string& g) const {
  size_t i = group_index(g);
  return i < groups.size() ? &groups[i] : nullptr;
}

namespace {

bool is_hex_colour(const std::string& c) {
  if (c.size() != 7 || c[0] != '#') return false;
  for (size_t i = 1; i < 7; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(c[i]))) return false;
  return true;
}

// The file's "groups" list (optional): ids, titles and optional colours, in the file's order.
std::vector<AblationGroupInfo> read_group_list(const nlohmann::json& j, const std::string& path) {
  std::vector<AblationGroupInfo> out;
  if (!j.contains("groups") || j["groups"].is_null()) return out;
  const auto& gs = j["groups"];
  require(gs.is_array(), path + ": \"groups\" must be an array");
  for (size_t i = 0; i < gs.size(); ++i) {
    const std::string where = path + ": groups[" + std::to_string(i) + "]";
    require(gs[i].is_object(), where + ": expected an object");
    AblationGroupInfo g;
    g.id = string_field(gs[i], "id", where);
    require(!g.id.empty(), where + ": empty \"id\"");
    if (gs[i].contains("title") && !gs[i]["title"].is_null())
      g.title = string_field(gs[i], "title", where);
    if (gs[i].contains("colour") && !gs[i]["colour"].is_null()) {
      g.colour = string_field(gs[i], "colour", where);
      require(is_hex_colour(g.colour), where + ": colour must be \"#rrggbb\", not \"" + g.colour + "\"");
    }
    for (const auto& o : out) require(o.id != g.id, where + ": group \"" + g.id + "\" listed twice");
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace

AblationFile read_ablation(const std::string& path) {
  nlohmann::json j = load_json_object(path);
  AblationFile f;
  f.path = path;
  const std::string schema = string_field(j, "schema", path);
  require(schema == kAblationSchema, path + ": schema is \"" + schema + "\", expected \"" +
                                         kAblationSchema + "\" (an ablation result file)");
  f.info = read_run_info(j);
  // "dense" (the full-context reference) is optional: `headscope ablate` may skip it.
  f.dense_perplexity = f.dense_accuracy = std::nan("");
  if (j.contains("dense") && !j["dense"].is_null()) {
    const auto& dense = j["dense"];
    require(dense.is_object(), path + ": \"dense\" must be an object");
    f.dense_perplexity = optional_number(dense, "perplexity", path + ": dense");
    require(!(f.dense_perplexity <= 0), path + ": dense perplexity must be positive");
    f.dense_accuracy = optional_number(dense, "accuracy", path + ": dense");
  }
  if (j.contains("classifications") && j["classifications"].is_string())
    f.classifications = j["classifications"].get<std::string>();
  const auto& results = field(j, "results", path);
  require(results.is_array(), path + ": \"results\" must be an array");
  require(!results.empty(), path + ": \"results\" is empty (no ablation configuration was run)");
  for (size_t i = 0; i < results.size(); ++i) {
    const std::string where = path + ": results[" + std::to_string(i) + "]";
    const auto& o = results[i];
    require(o.is_object(), where + ": expected an object");
    AblationResult r;
    r.name = string_field(o, "name", where);
    r.group = string_field(o, "group", where);
    require(!r.group.empty(), where + ": empty \"group\"");
    // A diverged configuration may carry a null perplexity: leave it out of the figures.
    double ppl = optional_number(o, "perplexity", where);
    if (!std::isfinite(ppl)) {
      f.notes.push_back(r.name + ": no finite perplexity, left out");
      continue;
    }
    require(ppl > 0, where + ": perplexity must be positive");
    r.perplexity = ppl;
    r.accuracy = optional_number(o, "accuracy", where);
    r.nominal_context = optional_number(o, "nominal_context", where);
    r.measured_context = number_field(o, "measured_context", where);
    require(r.measured_context >= 0, where + ": measured_context must be >= 0");
    if (o.contains("params")) {
      require(o["params"].is_object(), where + ": \"params\" must be an object");
      r.params = o["params"];
    } else {
      r.params = nlohmann::json::object();
    }
    f.results.push_back(std::move(r));
  }
  require(!f.results.empty(), path + ": no result has a finite perplexity");
  // Group list: the file's (only groups that have results), then groups seen only in results.
  for (auto& g : read_group_list(j, path))
    if (f.has_group(g.id)) f.groups.push_back(std::move(g));
  for (const auto& r : f.results)
    if (f.group_index(r.group) == f.groups.size()) f.groups.push_back({r.group, "", ""});
  if (j.contains("reference_group") && !j["reference_group"].is_null()) {
    f.reference_group = string_field(j, "reference_group", path);
    require(!f.reference_group.empty(), path + ": empty \"reference_group\"");
  }
  return f;
}

}  // namespace headscope::viz
