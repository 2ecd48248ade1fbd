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

namespace {

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
  const BuilderInfo& info = builder_info(c.builder);
  for (auto&& [k, v] : t) {
    const std::string key(k.str());
    if (contains(skip, key)) continue;
    const BuilderParam* p = info.param(key);
    if (!p)
      r.fail("'" + key + "' is not a parameter of builder '" + c.builder + "' (parameters: " +
             join(info.param_keys()) + ")");
    switch (p->kind) {
      case ParamKind::Int: p->set(c.parameters, r.integer(v, key)); break;
      case ParamKind::Number: p->set(c.parameters, r.number(v, key)); break;
      case ParamKind::String: p->set(c.parameters, r.string(v, key)); break;
      case ParamKind::Windows: p->set(c.parameters, r.windows(v, key)); break;
    }
  }
}

// Checks every parameter of the configuration's builder.
void validate(const AblationConfig& c, const Reader& r) {
  try {
    builder_info(c.builder).validate(c.parameters);
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

// A fresh configuration with the builder's defaults (each builder has its own: the inverse
// builder's base_window is 64, the confidence builder's 128).
AblationConfig fresh(const std::string& builder) {
  AblationConfig c;
  c.builder = builder;
  c.parameters = builder_info(builder).defaults;
  return c;
}

}  // namespace

bool AblationConfig::needs_classifications() const {
  return builder_info(builder).needs_classifications;
}

int64_t AblationConfig::sink() const {
  const BuilderParam* p = builder_info(builder).param("sink");
  return p ? p->get(parameters).get<int64_t>() : 0;
}

nlohmann::json AblationConfig::params() const {
  nlohmann::json j = {{"builder", builder}};
  for (const auto& p : builder_info(builder).params) j[p.key] = p.get(parameters);
  return j;
}

Visibility AblationConfig::build(int64_t layers, int64_t heads, const ClassificationFile* cls) const {
  const BuilderInfo& info = builder_info(builder);
  if (info.needs_classifications) {
    require(cls != nullptr, "configuration " + name + " (builder " + builder +
                                ") needs a head classification file (--classifications)");
    require(cls->num_layers == layers && cls->num_heads == heads,
            "the classification record has " + std::to_string(cls->num_layers) + " layers x " +
                std::to_string(cls->num_heads) + " heads, the model " + std::to_string(layers) +
                " x " + std::to_string(heads));
  }
  try {
    return info.build(parameters, layers, heads, info.needs_classifications ? cls : nullptr);
  } catch (const Error& e) {
    throw Error("configuration " + name + ": " + e.what());
  }
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
    if (auto* pf = std::get_if<PolicyFileParams>(&c.parameters))
      if (std::filesystem::path(pf->file).is_relative() && !dir.empty())
        pf->file = (dir / pf->file).string();
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
