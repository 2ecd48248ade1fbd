#include "analyzer/classification_io.h"

#include <algorithm>
#include <set>
#include <utility>

#include "common/atomic_file.h"
#include "common/error.h"

namespace headscope {

using ojson = nlohmann::ordered_json;

const std::vector<std::string>& head_type_names() {
  static const std::vector<std::string> v = {"positional",      "gathering",       "dead",
                                             "mixed",           "sink_positional", "true_positional",
                                             "sink_mixed"};
  return v;
}

const std::vector<std::string>& strategy_names() {
  static const std::vector<std::string> v = {"none", "prune", "window_only", "sink_window", "full"};
  return v;
}

bool is_head_type(const std::string& s) {
  const auto& v = head_type_names();
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool is_strategy(const std::string& s) {
  const auto& v = strategy_names();
  return std::find(v.begin(), v.end(), s) != v.end();
}

ojson classification_to_json(const HeadClassification& c) {
  ojson j;
  j["layer_idx"] = c.layer;
  j["head_idx"] = c.head;
  j["head_type"] = c.type;
  j["confidence"] = c.confidence;
  j["can_prune"] = c.can_prune;
  j["can_limit_window"] = c.can_limit_window;
  j["recommended_window"] = c.recommended_window;
  j["keep_sinks"] = c.keep_sinks;
  j["sink_size"] = c.sink_size;
  j["use_full_cache"] = c.use_full_cache;
  j["compression_strategy"] = c.strategy;
  if (c.stability >= 0) j["stability"] = c.stability;
  if (c.kv_head >= 0) j["kv_head"] = c.kv_head;
  return j;
}

ojson classification_summary(const std::vector<HeadClassification>& heads) {
  const double total = double(heads.size());
  auto pct = [&](int64_t n) { return total > 0 ? double(n) / total * 100.0 : 0.0; };
  ojson types, type_pct, strategies, strategy_pct;
  for (const auto& t : head_type_names()) types[t] = 0;
  for (const auto& s : strategy_names()) strategies[s] = 0;
  int64_t prunable = 0, limitable = 0, sinks = 0;
  for (const auto& c : heads) {
    if (types.contains(c.type)) types[c.type] = types[c.type].get<int64_t>() + 1;
    if (strategies.contains(c.strategy))
      strategies[c.strategy] = strategies[c.strategy].get<int64_t>() + 1;
    prunable += c.can_prune;
    limitable += c.can_limit_window;
    sinks += c.keep_sinks;
  }
  for (auto& [k, v] : types.items()) type_pct[k] = pct(v.get<int64_t>());
  for (auto& [k, v] : strategies.items()) strategy_pct[k] = pct(v.get<int64_t>());
  ojson s;
  s["total_heads"] = static_cast<int64_t>(heads.size());
  s["type_distribution"] = types;
  s["type_percentages"] = type_pct;
  s["prunable_heads"] = prunable;
  s["prunable_percentage"] = pct(prunable);
  s["limitable_heads"] = limitable;
  s["limitable_percentage"] = pct(limitable);
  s["compression_strategies"] = strategies;
  s["strategy_percentages"] = strategy_pct;
  s["sink_heads"] = sinks;
  s["sink_heads_percentage"] = pct(sinks);
  return s;
}

ojson kv_group_to_json(const KvGroup& g) {
  ojson j;
  j["layer_idx"] = g.layer;
  j["kv_head"] = g.kv_head;
  j["query_heads"] = g.query_heads;
  j["group_type"] = g.cls.type;
  j["confidence"] = g.cls.confidence;
  j["recommended_window"] = g.cls.recommended_window;
  j["distinct_types"] = g.distinct_types;
  j["type_agreement"] = g.type_agreement;
  j["entropy_spread"] = g.entropy_spread;
  j["sink_spread"] = g.sink_spread;
  j["mean_entropy"] = g.stats.mean_entropy;
  j["sink_ratio"] = g.stats.sink;
  j["local"] = g.stats.local;
  j["uniformity_score"] = g.stats.uniformity;
  return j;
}

std::string classifications_json(const std::vector<HeadClassification>& heads,
                                 const std::vector<KvGroup>& groups) {
  ojson root;
  root["classifications"] = ojson::array();
  for (const auto& c : heads) root["classifications"].push_back(classification_to_json(c));
  root["summary"] = classification_summary(heads);
  if (!groups.empty()) {
    root["kv_groups"] = ojson::array();
    for (const auto& g : groups) root["kv_groups"].push_back(kv_group_to_json(g));
  }
  return root.dump(2) + "\n";
}

void write_classifications(const std::string& path, const std::vector<HeadClassification>& heads,
                           const std::vector<KvGroup>& groups) {
  write_file_atomic(path, classifications_json(heads, groups));
}

namespace {

// Field accessors with one-line errors naming the file and entry.
const nlohmann::json& field(const nlohmann::json& e, const char* key, const std::string& where) {
  auto it = e.find(key);
  require(it != e.end(), where + ": missing field '" + key + "'");
  return *it;
}

int64_t get_int(const nlohmann::json& v, const char* key, const std::string& where) {
  require(v.is_number_integer(), where + ": field '" + key + "' must be an integer");
  return v.get<int64_t>();
}

bool get_bool(const nlohmann::json& v, const char* key, const std::string& where) {
  require(v.is_boolean(), where + ": field '" + key + "' must be true or false");
  return v.get<bool>();
}

double get_number(const nlohmann::json& v, const char* key, const std::string& where) {
  require(v.is_number(), where + ": field '" + key + "' must be a number");
  return v.get<double>();
}

std::string get_string(const nlohmann::json& v, const char* key, const std::string& where) {
  require(v.is_string(), where + ": field '" + key + "' must be a string");
  return v.get<std::string>();
}

}  // namespace

ClassificationFile parse_classifications(const std::string& text, const std::string& what) {
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error("cannot parse " + what + ": " + e.what());
  }
  require(root.is_object(), what + ": expected a JSON object with a 'classifications' list");
  auto it = root.find("classifications");
  require(it != root.end() && it->is_array(), what + ": missing 'classifications' list");
  require(!it->empty(), what + ": 'classifications' is empty");

  ClassificationFile f;
  std::set<std::pair<int64_t, int64_t>> seen;
  size_t idx = 0;
  for (const auto& e : *it) {
    const std::string where = what + ": classifications[" + std::to_string(idx++) + "]";
    require(e.is_object(), where + ": expected an object");
    HeadClassification c;
    c.layer = get_int(field(e, "layer_idx", where), "layer_idx", where);
    c.head = get_int(field(e, "head_idx", where), "head_idx", where);
    require(c.layer >= 0 && c.head >= 0, where + ": negative layer_idx or head_idx");
    require(c.layer < 100000 && c.head < 100000, where + ": layer_idx or head_idx out of range");
    c.type = get_string(field(e, "head_type", where), "head_type", where);
    require(is_head_type(c.type), where + ": unknown head_type '" + c.type + "'");
    c.confidence = get_number(field(e, "confidence", where), "confidence", where);
    c.can_prune = get_bool(field(e, "can_prune", where), "can_prune", where);
    c.can_limit_window = get_bool(field(e, "can_limit_window", where), "can_limit_window", where);
    c.recommended_window =
        get_int(field(e, "recommended_window", where), "recommended_window", where);
    require(c.recommended_window >= -1, where + ": recommended_window must be -1 or >= 0");
    // Fields added after the first published version: optional, defaults otherwise.
    bool complete = true;
    if (e.contains("keep_sinks")) c.keep_sinks = get_bool(e["keep_sinks"], "keep_sinks", where);
    else complete = false;
    if (e.contains("sink_size")) {
      c.sink_size = get_int(e["sink_size"], "sink_size", where);
      require(c.sink_size >= 0, where + ": sink_size must be >= 0");
    } else {
      complete = false;
    }
    if (e.contains("use_full_cache"))
      c.use_full_cache = get_bool(e["use_full_cache"], "use_full_cache", where);
    else complete = false;
    if (e.contains("compression_strategy")) {
      c.strategy = get_string(e["compression_strategy"], "compression_strategy", where);
      require(is_strategy(c.strategy),
              where + ": unknown compression_strategy '" + c.strategy + "'");
    } else {
      complete = false;
    }
    if (e.contains("stability") && !e["stability"].is_null()) {
      c.stability = get_number(e["stability"], "stability", where);
      require(c.stability >= 0 && c.stability <= 1, where + ": stability must lie in [0, 1]");
    }
    if (e.contains("kv_head") && !e["kv_head"].is_null()) {
      c.kv_head = get_int(e["kv_head"], "kv_head", where);
      require(c.kv_head >= 0, where + ": kv_head must be >= 0");
    }
    if (!complete) f.legacy_schema = true;
    require(seen.insert({c.layer, c.head}).second,
            where + ": duplicate entry for layer " + std::to_string(c.layer) + " head " +
                std::to_string(c.head));
    f.num_layers = std::max(f.num_layers, c.layer + 1);
    f.num_heads = std::max(f.num_heads, c.head + 1);
    f.heads.push_back(std::move(c));
  }
  const int64_t expected = f.num_layers * f.num_heads;
  if (static_cast<int64_t>(f.heads.size()) != expected) {
    // Name the first missing head.
    for (int64_t l = 0; l < f.num_layers; ++l)
      for (int64_t h = 0; h < f.num_heads; ++h)
        require(seen.count({l, h}) > 0, what + ": no entry for layer " + std::to_string(l) +
                                            " head " + std::to_string(h) + " (" +
                                            std::to_string(f.heads.size()) + " entries for " +
                                            std::to_string(f.num_layers) + " layers x " +
                                            std::to_string(f.num_heads) + " heads)");
  }
  std::sort(f.heads.begin(), f.heads.end(), [](const auto& a, const auto& b) {
    return a.layer != b.layer ? a.layer < b.layer : a.head < b.head;
  });
  return f;
}

ClassificationFile read_classifications(const std::string& path) {
  return parse_classifications(read_file(path), path);
}

void check_classifications_match(const ClassificationFile& f, int64_t layers, int64_t heads,
                                 const std::string& path) {
  require(f.num_layers == layers && f.num_heads == heads,
          path + " classifies " + std::to_string(f.num_layers) + " layers x " +
              std::to_string(f.num_heads) + " heads, but the model has " +
              std::to_string(layers) + " layers x " + std::to_string(heads) + " heads");
}

}  // namespace headscope
