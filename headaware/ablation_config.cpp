#include "headaware/ablation_config.h"

#include <toml++/toml.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "formats/policy_file.h"

namespace headscope {

const std::vector<std::string>& known_builders() {
  static const std::vector<std::string> b = {"uniform", "from_classifications", "confidence",
                                             "inverse", "policy_file"};
  return b;
}

namespace {

const std::vector<std::string>& builder_params(const std::string& builder) {
  static const std::vector<std::string> uniform = {"sink", "window"};
  static const std::vector<std::string> from_cls = {"sink", "window_override"};
  static const std::vector<std::string> conf = {"sink", "threshold", "base_window",
                                                "high_conf_windows"};
  static const std::vector<std::string> inv = {"sink", "base_window", "gathering_window",
                                               "gathering_confidence_threshold"};
  if (builder == "uniform") return uniform;
  if (builder == "from_classifications") return from_cls;
  static const std::vector<std::string> file = {"file"};
  if (builder == "confidence") return conf;
  if (builder == "policy_file") return file;
  return inv;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  for (const auto& y : v)
    if (y == x) return true;
  return false;
}

std::string where(const toml::node& n) {
  const auto& b = n.source().begin;
  return "line " + std::to_string(b.line);
}

// One parser context: `ctx` prefixes every message ("file: group 'G' config 'x'").
struct Reader {
  std::string ctx;

  [[noreturn]] void fail(const std::string& msg) const { throw Error(ctx + ": " + msg); }

  int64_t integer(const toml::node& n, const std::string& key) const {
    if (auto v = n.value_exact<int64_t>()) return *v;
    fail(key + " must be an integer (" + where(n) + ")");
  }
  double number(const toml::node& n, const std::string& key) const {
    if (auto v = n.value_exact<double>()) return *v;
    if (auto v = n.value_exact<int64_t>()) return double(*v);
    fail(key + " must be a number (" + where(n) + ")");
  }
  std::string string(const toml::node& n, const std::string& key) const {
    if (auto v = n.value_exact<std::string>()) return *v;
    fail(key + " must be a string (" + where(n) + ")");
  }
  WindowByType windows(const toml::node& n, const std::string& key) const {
    const toml::table* t = n.as_table();
    if (!t) fail(key + " must be a table of head type = window (" + where(n) + ")");
    WindowByType m;
    for (auto&& [k, v] : *t) m[std::string(k.str())] = integer(v, key + "." + std::string(k.str()));
    try {
      check_window_table(m, key);
    } catch (const Error& e) {
      fail(e.what());
    }
    return m;
  }
};

// Applies the builder parameters found in `t` (group defaults or one config) to `c`. Keys in
// `skip` (id, title, name, configs, builder) are handled by the caller.
void apply_params(AblationConfig& c, const toml::table& t, const std::vector<std::string>& skip,
                  const Reader& r) {
  const auto& allowed = builder_params(c.builder);
  for (auto&& [k, v] : t) {
    const std::string key(k.str());
    if (contains(skip, key)) continue;
    if (!contains(allowed, key))
      r.fail("'" + key + "' is not a parameter of builder '" + c.builder + "' (parameters: " +
             join(allowed) + ")");
    if (key == "sink") {
      int64_t s = r.integer(v, key);
      c.uniform.sink = c.from_classifications.sink = c.confidence.sink = c.inverse.sink = s;
    } else if (key == "window") {
      c.uniform.window = r.integer(v, key);
    } else if (key == "window_override") {
      c.from_classifications.window_override = r.windows(v, key);
    } else if (key == "threshold") {
      c.confidence.threshold = r.number(v, key);
    } else if (key == "base_window") {
      c.confidence.base_window = c.inverse.base_window = r.integer(v, key);
    } else if (key == "high_conf_windows") {
      c.confidence.high_conf_windows = r.windows(v, key);
    } else if (key == "gathering_window") {
      c.inverse.gathering_window = r.integer(v, key);
    } else if (key == "file") {
      c.policy_file.file = r.string(v, key);
    } else if (key == "gathering_confidence_threshold") {
      c.inverse.gathering_confidence_threshold = r.number(v, key);
    }
  }
}

// Checks every parameter of the configuration's builder.
void validate(const AblationConfig& c, const Reader& r) {
  try {
    if (c.builder == "uniform") {
      check_sink(c.uniform.sink, "sink");
      check_window(c.uniform.window, "window");
    } else if (c.builder == "from_classifications") {
      check_sink(c.from_classifications.sink, "sink");
      check_window_table(c.from_classifications.window_override, "window_override");
    } else if (c.builder == "confidence") {
      check_sink(c.confidence.sink, "sink");
      check_threshold(c.confidence.threshold, "threshold");
      check_window(c.confidence.base_window, "base_window");
      check_window_table(c.confidence.high_conf_windows, "high_conf_windows");
    } else if (c.builder == "policy_file") {
      require(!c.policy_file.file.empty(), "policy_file needs file = \"<policy file>\"");
    } else {
      check_sink(c.inverse.sink, "sink");
      check_window(c.inverse.base_window, "base_window");
      check_window(c.inverse.gathering_window, "gathering_window");
      check_threshold(c.inverse.gathering_confidence_threshold, "gathering_confidence_threshold");
    }
  } catch (const Error& e) {
    r.fail(e.what());
  }
}

std::string builder_of(const toml::table& t, const std::string& fallback, const Reader& r) {
  const toml::node* n = t.get("builder");
  if (!n) return fallback;
  std::string b = r.string(*n, "builder");
  if (!contains(known_builders(), b))
    r.fail("unknown builder '" + b + "' (known: " + join(known_builders()) + ")");
  return b;
}

// A fresh configuration with the builder's defaults. The inverse builder's base_window
// default (64) differs from the confidence builder's (128); both live in their own struct.
AblationConfig fresh(const std::string& builder) {
  AblationConfig c;
  c.builder = builder;
  return c;
}

}  // namespace

int64_t AblationConfig::sink() const {
  if (builder == "uniform") return uniform.sink;
  if (builder == "from_classifications") return from_classifications.sink;
  if (builder == "confidence") return confidence.sink;
  if (builder == "policy_file") return 0;  // per head, in the file
  return inverse.sink;
}

nlohmann::json AblationConfig::params() const {
  nlohmann::json j = {{"builder", builder}};
  if (builder == "uniform") {
    j["sink"] = uniform.sink;
    j["window"] = uniform.window;
  } else if (builder == "from_classifications") {
    j["window_override"] = nlohmann::json(from_classifications.window_override);
    j["sink"] = from_classifications.sink;
  } else if (builder == "confidence") {
    j["threshold"] = confidence.threshold;
    j["base_window"] = confidence.base_window;
    j["high_conf_windows"] = nlohmann::json(confidence.high_conf_windows);
    j["sink"] = confidence.sink;
  } else if (builder == "policy_file") {
    j["file"] = policy_file.file;
  } else {
    j["base_window"] = inverse.base_window;
    j["gathering_window"] = inverse.gathering_window;
    j["gathering_confidence_threshold"] = inverse.gathering_confidence_threshold;
    j["sink"] = inverse.sink;
  }
  return j;
}

Visibility AblationConfig::build(int64_t layers, int64_t heads, const ClassificationFile* cls) const {
  if (builder == "uniform") return uniform_policy(layers, heads, uniform);
  if (builder == "policy_file") {
    PolicyFile pf = PolicyFile::load(policy_file.file);
    require(pf.policy.layers() == layers && pf.policy.heads() == heads,
            "configuration " + name + ": " + policy_file.file + " was made for " +
                pf.model.describe() + ", not " + std::to_string(layers) + " layers x " +
                std::to_string(heads) + " KV heads");
    return pf.policy;
  }
  require(cls != nullptr, "configuration " + name + " (builder " + builder +
                              ") needs a head classification file (--classifications)");
  require(cls->num_layers == layers && cls->num_heads == heads,
          "the classification record has " + std::to_string(cls->num_layers) + " layers x " +
              std::to_string(cls->num_heads) + " heads, the model " + std::to_string(layers) +
              " x " + std::to_string(heads));
  if (builder == "from_classifications")
    return from_classifications_policy(*cls, from_classifications);
  if (builder == "confidence") return confidence_policy(*cls, confidence);
  if (builder == "inverse") return inverse_policy(*cls, inverse);
  throw Error("configuration " + name + ": unknown builder '" + builder + "'");
}

bool AblationPlan::needs_classifications() const {
  for (const auto& c : configs)
    if (c.needs_classifications()) return true;
  return false;
}

AblationPlan parse_ablation_plan(const std::string& toml_text, const std::string& source) {
  toml::table root;
#if TOML_EXCEPTIONS
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    throw Error(source + ":" + std::to_string(b.line) + ":" + std::to_string(b.column) +
                ": malformed TOML: " + std::string(e.description()));
  }
#else
  toml::parse_result pr = toml::parse(toml_text, source);
  if (!pr) {
    const auto& b = pr.error().source().begin;
    throw Error(source + ":" + std::to_string(b.line) + ":" + std::to_string(b.column) +
                ": malformed TOML: " + std::string(pr.error().description()));
  }
  root = std::move(pr).table();
#endif
  Reader top{source};
  AblationPlan plan;
  for (auto&& [k, v] : root) {
    const std::string key(k.str());
    if (key == "reference_group") {
      plan.reference_group = top.string(v, key);
    } else if (key != "group") {
      top.fail("unknown top-level key '" + key + "' (expected reference_group and [[group]] tables)");
    }
  }
  const toml::node* groups_node = root.get("group");
  if (!groups_node) top.fail("no [[group]] tables");
  const toml::array* groups = groups_node->as_array();
  if (!groups) top.fail("'group' must be an array of tables ([[group]])");

  std::set<std::string> group_ids, names;
  for (const toml::node& gn : *groups) {
    const toml::table* g = gn.as_table();
    if (!g) top.fail("every [[group]] entry must be a table (" + where(gn) + ")");
    Reader gr{source + ": group at " + where(gn)};
    const toml::node* idn = g->get("id");
    if (!idn) gr.fail("missing 'id'");
    AblationGroup group;
    group.id = gr.string(*idn, "id");
    if (group.id.empty() || group.id.find_first_of(", \t") != std::string::npos)
      gr.fail("group id '" + group.id + "' must be non-empty without commas or spaces");
    gr.ctx = source + ": group '" + group.id + "'";
    if (!group_ids.insert(group.id).second) gr.fail("duplicate group id");
    if (const toml::node* t = g->get("title")) group.title = gr.string(*t, "title");
    const std::string gbuilder = builder_of(*g, "", gr);

    const toml::node* cn = g->get("configs");
    if (!cn) gr.fail("missing 'configs' (an array of { name = ..., <parameters> })");
    const toml::array* cfgs = cn->as_array();
    if (!cfgs || cfgs->empty()) gr.fail("'configs' must be a non-empty array of tables");
    for (const toml::node& c : *cfgs) {
      const toml::table* ct = c.as_table();
      if (!ct) gr.fail("every entry of 'configs' must be a table (" + where(c) + ")");
      const toml::node* nn = ct->get("name");
      if (!nn) gr.fail("a configuration without 'name' (" + where(c) + ")");
      Reader cr{source + ": group '" + group.id + "' config at " + where(c)};
      const std::string name = cr.string(*nn, "name");
      cr.ctx = source + ": config '" + name + "'";
      if (name.empty()) cr.fail("empty name");
      if (!names.insert(name).second) cr.fail("duplicate configuration name");
      std::string builder = builder_of(*ct, gbuilder, cr);
      if (builder.empty()) cr.fail("no builder (set 'builder' in the group or the configuration)");
      AblationConfig cfg = fresh(builder);
      cfg.name = name;
      cfg.group = group.id;
      // Group-level parameters are defaults; if the config picks another builder, only the
      // parameters that builder knows are taken from the group.
      if (builder == gbuilder) {
        apply_params(cfg, *g, {"id", "title", "builder", "configs"}, gr);
      }
      apply_params(cfg, *ct, {"name", "builder"}, cr);
      validate(cfg, cr);
      plan.configs.push_back(std::move(cfg));
    }
    plan.groups.push_back(group);
  }
  return plan;
}

AblationPlan load_ablation_plan(const std::string& path) {
  AblationPlan plan = parse_ablation_plan(read_file(path), path);
  // policy_file paths are relative to the TOML file's directory
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  for (auto& c : plan.configs)
    if (c.builder == "policy_file" && std::filesystem::path(c.policy_file.file).is_relative() &&
        !dir.empty())
      c.policy_file.file = (dir / c.policy_file.file).string();
  return plan;
}

AblationPlan select_groups(const AblationPlan& plan, const std::vector<std::string>& ids) {
  if (ids.empty()) return plan;
  for (const auto& id : ids) {
    bool found = false;
    for (const auto& g : plan.groups) found = found || g.id == id;
    if (!found) {
      std::vector<std::string> have;
      for (const auto& g : plan.groups) have.push_back(g.id);
      throw Error("--groups: no group '" + id + "' in the configuration (groups: " + join(have) + ")");
    }
  }
  AblationPlan out;
  out.reference_group = plan.reference_group;
  for (const auto& g : plan.groups)
    if (contains(ids, g.id)) out.groups.push_back(g);
  for (const auto& c : plan.configs)
    if (contains(ids, c.group)) out.configs.push_back(c);
  return out;
}

std::vector<std::string> split_group_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    size_t a = cur.find_first_not_of(" \t"), b = cur.find_last_not_of(" \t");
    if (a != std::string::npos) out.push_back(cur.substr(a, b - a + 1));
    cur.clear();
  };
  for (char ch : s) {
    if (ch == ',') flush();
    else cur += ch;
  }
  flush();
  return out;
}

}  // namespace headscope
