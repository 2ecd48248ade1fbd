#include "viz/head_files.h"

#include <cmath>

#include "common/error.h"

namespace headscope::viz {

namespace {

// Places items with (layer, head) into a complete layer-major grid, or throws.
template <class Cell>
void build_grid(std::vector<Cell>& items, int64_t& layers, int64_t& heads, const std::string& path,
                int64_t declared_layers, int64_t declared_heads) {
  int64_t L = 0, H = 0;
  for (const auto& c : items) {
    L = std::max(L, c.layer + 1);
    H = std::max(H, c.head + 1);
  }
  if (declared_layers > 0)
    require(L <= declared_layers && (int64_t)items.size() == declared_layers * declared_heads,
            path + ": model_info says " + std::to_string(declared_layers) + " layers x " +
                std::to_string(declared_heads) + " heads but the file lists " +
                std::to_string(items.size()) + " heads");
  if (declared_layers > 0) L = declared_layers;
  if (declared_heads > 0) {
    require(H <= declared_heads, path + ": head index beyond model_info.num_heads");
    H = declared_heads;
  }
  require(L * H == (int64_t)items.size(),
          path + ": " + std::to_string(items.size()) + " heads listed, expected " +
              std::to_string(L) + " layers x " + std::to_string(H) + " heads = " +
              std::to_string(L * H) + " (some (layer, head) entries are missing or duplicated)");
  std::vector<Cell> grid(items.size());
  std::vector<char> seen(items.size(), 0);
  for (auto& c : items) {
    size_t k = size_t(c.layer * H + c.head);
    require(!seen[k], path + ": duplicate entry for layer " + std::to_string(c.layer) + " head " +
                          std::to_string(c.head));
    seen[k] = 1;
    grid[k] = std::move(c);
  }
  items = std::move(grid);
  layers = L;
  heads = H;
}

void read_index(const nlohmann::json& o, const std::string& where, int64_t& layer, int64_t& head) {
  layer = int_field(o, "layer_idx", where);
  head = int_field(o, "head_idx", where);
  require(layer >= 0 && head >= 0 && layer < 100000 && head < 100000,
          where + ": layer_idx/head_idx out of range");
}

}  // namespace

HeadTypeGrid read_head_types(const std::string& path) {
  nlohmann::json j = load_json_object(path);
  HeadTypeGrid g;
  g.path = path;
  g.info = read_run_info(j);
  const auto& list = field(j, "classifications", path);
  require(list.is_array(), path + ": \"classifications\" must be an array");
  require(!list.empty(), path + ": \"classifications\" is empty");
  size_t with_stability = 0;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = path + ": classifications[" + std::to_string(i) + "]";
    const auto& o = list[i];
    require(o.is_object(), where + ": expected an object");
    HeadTypeCell c;
    read_index(o, where, c.layer, c.head);
    c.type = string_field(o, "head_type", where);
    require(!c.type.empty(), where + ": empty head_type");
    c.confidence = number_field(o, "confidence", where);
    require(c.confidence >= -1e-9 && c.confidence <= 1 + 1e-9,
            where + ": confidence must lie in [0, 1]");
    c.stability = optional_number(o, "stability", where);
    if (std::isfinite(c.stability)) {
      require(c.stability >= -1e-9 && c.stability <= 1 + 1e-9,
              where + ": stability must lie in [0, 1]");
      ++with_stability;
    }
    g.cells.push_back(std::move(c));
  }
  int64_t dl = -1, dh = -1;
  if (j.contains("model_info") && j["model_info"].is_object()) {
    const auto& mi = j["model_info"];
    if (mi.contains("num_layers") && mi["num_layers"].is_number_integer()) dl = mi["num_layers"];
    if (mi.contains("num_heads") && mi["num_heads"].is_number_integer()) dh = mi["num_heads"];
  }
  build_grid(g.cells, g.layers, g.heads, path, dl, dh);
  g.has_stability = with_stability == g.cells.size();
  return g;
}

HeadStatsGrid read_head_stats(const std::string& path) {
  nlohmann::json j = load_json_object(path);
  HeadStatsGrid g;
  g.path = path;
  g.info = read_run_info(j);
  int64_t dl = -1, dh = -1;
  if (j.contains("model_info")) {
    const auto& mi = j["model_info"];
    require(mi.is_object(), path + ": \"model_info\" must be an object");
    if (mi.contains("num_layers")) dl = int_field(mi, "num_layers", path + ": model_info");
    if (mi.contains("num_heads")) dh = int_field(mi, "num_heads", path + ": model_info");
    require((dl < 0) == (dh < 0) && (dl < 0 || (dl > 0 && dh > 0)),
            path + ": model_info needs positive num_layers and num_heads");
    if (mi.contains("sink_size")) g.sink_size = int_field(mi, "sink_size", path + ": model_info");
    if (mi.contains("local_window"))
      g.local_window = int_field(mi, "local_window", path + ": model_info");
  }
  const auto& list = field(j, "head_statistics", path);
  require(list.is_array(), path + ": \"head_statistics\" must be an array");
  require(!list.empty(), path + ": \"head_statistics\" is empty");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = path + ": head_statistics[" + std::to_string(i) + "]";
    const auto& o = list[i];
    require(o.is_object(), where + ": expected an object");
    HeadStatCell c;
    read_index(o, where, c.layer, c.head);
    c.mean_entropy = optional_number(o, "mean_entropy", where);
    require(o.contains("mean_entropy"), where + ": missing field \"mean_entropy\"");
    c.sink_ratio = optional_number(o, "sink_ratio", where);
    require(o.contains("sink_ratio"), where + ": missing field \"sink_ratio\"");
    const auto& pp = field(o, "position_preference", where);
    c.local_ratio = optional_number(pp, "local", where + ".position_preference");
    require(pp.contains("local"), where + ".position_preference: missing field \"local\"");
    const auto& rp = field(o, "relative_position_dist", where);
    require(rp.is_array() && !rp.empty(),
            where + ": \"relative_position_dist\" must be a non-empty array");
    for (const auto& v : rp) {
      require(v.is_number() || v.is_null(),
              where + ": \"relative_position_dist\" must hold numbers");
      c.relpos.push_back(v.is_null() ? std::nan("") : v.get<double>());
    }
    if (i == 0) g.relpos_len = c.relpos.size();
    require(c.relpos.size() == g.relpos_len,
            where + ": relative_position_dist has " + std::to_string(c.relpos.size()) +
                " entries, the first head has " + std::to_string(g.relpos_len));
    g.cells.push_back(std::move(c));
  }
  build_grid(g.cells, g.layers, g.heads, path, dl, dh);
  return g;
}

}  // namespace headscope::viz
