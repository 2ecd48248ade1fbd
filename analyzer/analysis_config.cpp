#include "analyzer/analysis_config.h"

#include <toml++/toml.h>

#include <cmath>
#include <set>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/text.h"

namespace headscope {

namespace {

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

int64_t get_int(const toml::table& t, const std::string& section, const char* key, int64_t def,
                const std::string& what) {
  const toml::node* n = t.get(key);
  if (!n) return def;
  auto v = n->value_exact<int64_t>();
  require(v.has_value(), what + ": [" + section + "] " + key + " must be an integer");
  return *v;
}

double get_double(const toml::table& t, const std::string& section, const char* key, double def,
                  const std::string& what) {
  const toml::node* n = t.get(key);
  if (!n) return def;
  if (auto i = n->value_exact<int64_t>()) return double(*i);
  auto v = n->value_exact<double>();
  require(v.has_value(), what + ": [" + section + "] " + key + " must be a number");
  return *v;
}

void check_keys(const toml::table& t, const std::string& section,
                const std::set<std::string>& allowed, const std::string& what) {
  for (const auto& [k, v] : t) {
    (void)v;
    const std::string key(k.str());
    require(allowed.count(key) > 0, what + ": unknown key '" + key + "' in [" + section + "]");
  }
}

std::string fmt(double v) {
  std::ostringstream o;
  o.precision(17);
  o << v;
  return o.str();
}

}  // namespace

void AnalysisConfig::validate() const {
  require(max_tokens >= 0, "max_tokens must be >= 0 (got " + std::to_string(max_tokens) + ")");
  options.validate();
}

std::string AnalysisConfig::canonical() const {
  const auto& s = options.stats;
  const auto& t = options.thresholds;
  std::ostringstream o;
  o << "[stats]\n"
    << "max_tokens = " << max_tokens << "\n"
    << "chunk_size = " << options.chunk_size << "\n"
    << "sink_size = " << s.sink_size << "\n"
    << "local_window = " << s.local_window << "\n"
    << "recent_ratio = " << fmt(s.recent_ratio) << "\n"
    << "relative_positions = " << s.max_distance << "\n"
    << "min_chunk_tokens = " << options.min_chunk_tokens << "\n"
    << "context = \"" << to_string(options.context) << "\"\n"
    << "[thresholds]\n"
    << "low_entropy = " << fmt(t.low_entropy) << "\n"
    << "high_entropy = " << fmt(t.high_entropy) << "\n"
    << "dead_uniformity = " << fmt(t.dead_uniformity) << "\n"
    << "high_local = " << fmt(t.high_local) << "\n"
    << "high_sink = " << fmt(t.high_sink) << "\n";
  return o.str();
}

std::string AnalysisConfig::hash() const { return sha256_hex(canonical()); }

AnalysisConfig parse_analysis_config(const std::string& text, const std::string& what) {
  toml::table root;
  try {
    root = toml::parse(text, what);
  } catch (const toml::parse_error& e) {
    std::ostringstream o;
    o << what << ": invalid TOML at line " << e.source().begin.line << ", column "
      << e.source().begin.column << ": " << e.description();
    throw Error(one_line(o.str()));
  }
  AnalysisConfig c;
  c.source = what;
  for (const auto& [k, v] : root) {
    const std::string key(k.str());
    require(key == "stats" || key == "thresholds",
            what + ": unknown section or key '" + key + "' (expected [stats] and [thresholds])");
    require(v.is_table(), what + ": '" + key + "' must be a table");
  }
  if (const toml::table* s = root["stats"].as_table()) {
    check_keys(*s, "stats",
               {"max_tokens", "chunk_size", "sink_size", "local_window", "recent_ratio",
                "relative_positions", "min_chunk_tokens", "context"},
               what);
    c.max_tokens = get_int(*s, "stats", "max_tokens", c.max_tokens, what);
    c.options.chunk_size = get_int(*s, "stats", "chunk_size", c.options.chunk_size, what);
    auto& st = c.options.stats;
    st.sink_size = get_int(*s, "stats", "sink_size", st.sink_size, what);
    st.local_window = get_int(*s, "stats", "local_window", st.local_window, what);
    st.recent_ratio = get_double(*s, "stats", "recent_ratio", st.recent_ratio, what);
    st.max_distance = get_int(*s, "stats", "relative_positions", st.max_distance, what);
    c.options.min_chunk_tokens =
        get_int(*s, "stats", "min_chunk_tokens", c.options.min_chunk_tokens, what);
    if (const toml::node* n = s->get("context")) {
      auto v = n->value_exact<std::string>();
      require(v.has_value(), what + ": [stats] context must be a string (\"chunks\" or \"full\")");
      try {
        c.options.context = parse_context_mode(*v);
      } catch (const Error& e) {
        throw Error(what + ": [stats] " + e.what());
      }
    }
  }
  if (const toml::table* t = root["thresholds"].as_table()) {
    check_keys(*t, "thresholds",
               {"low_entropy", "high_entropy", "dead_uniformity", "high_local", "high_sink"}, what);
    auto& th = c.options.thresholds;
    th.low_entropy = get_double(*t, "thresholds", "low_entropy", th.low_entropy, what);
    th.high_entropy = get_double(*t, "thresholds", "high_entropy", th.high_entropy, what);
    th.dead_uniformity = get_double(*t, "thresholds", "dead_uniformity", th.dead_uniformity, what);
    th.high_local = get_double(*t, "thresholds", "high_local", th.high_local, what);
    th.high_sink = get_double(*t, "thresholds", "high_sink", th.high_sink, what);
  }
  try {
    c.validate();
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
  return c;
}

AnalysisConfig load_analysis_config(const std::string& path) {
  return parse_analysis_config(read_file(path), path);
}

}  // namespace headscope
