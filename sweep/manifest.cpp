#include "sweep/manifest.h"

#include <toml++/toml.h>

#include <filesystem>
#include <set>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/text.h"
#include "dataset/documents.h"
#include "headaware/ablation_config.h"

namespace headscope {

namespace fs = std::filesystem;

namespace {

std::string abs_path(const std::string& p) { return p.empty() ? p : fs::absolute(p).lexically_normal().string(); }

const toml::table* table_of(const toml::table& root, const char* key, const std::string& src) {
  const toml::node* n = root.get(key);
  if (!n) return nullptr;
  require(n->is_table(), src + ": [" + key + "] must be a table");
  return n->as_table();
}

template <typename T>
T get_or(const toml::table* t, const char* key, T def, const std::string& where) {
  if (!t) return def;
  const toml::node* n = t->get(key);
  if (!n) return def;
  if constexpr (std::is_same_v<T, std::string>) {
    require(n->is_string(), where + "." + key + " must be a string");
    return n->as_string()->get();
  } else {
    require(n->is_integer(), where + "." + key + " must be an integer");
    return static_cast<T>(n->as_integer()->get());
  }
}

void check_keys(const toml::table& t, const std::set<std::string>& allowed, const std::string& where) {
  for (auto&& [k, v] : t) {
    (void)v;
    require(allowed.count(std::string(k.str())) > 0, where + ": unknown key '" + std::string(k.str()) + "'");
  }
}

}  // namespace

nlohmann::json SweepSpec::to_json() const {
  nlohmann::json ms = nlohmann::json::array(), ds = nlohmann::json::array();
  for (const auto& m : models) ms.push_back({{"path", m.path}, {"classifications", m.classifications}});
  for (const auto& d : datasets)
    ds.push_back({{"path", d.path}, {"field", d.field}, {"split_on", d.split_on}, {"max_docs", d.max_docs}});
  return {{"models", ms},          {"datasets", ds},     {"max_tokens", max_tokens},
          {"newlines", newlines},  {"context", context}, {"stride", stride},
          {"threads", threads},    {"ablation_config", ablation_config},
          {"groups", groups},      {"bootstrap", bootstrap}, {"seed", seed}};
}

SweepSpec SweepSpec::from_json(const nlohmann::json& j) {
  SweepSpec s;
  for (const auto& m : j.at("models")) s.models.push_back({m.at("path"), m.at("classifications")});
  for (const auto& d : j.at("datasets"))
    s.datasets.push_back({d.at("path"), d.at("field"), d.at("split_on"), d.at("max_docs")});
  s.max_tokens = j.at("max_tokens");
  s.newlines = j.at("newlines");
  s.context = j.at("context");
  s.stride = j.at("stride");
  s.threads = j.at("threads");
  s.ablation_config = j.at("ablation_config");
  s.groups = j.at("groups").get<std::vector<std::string>>();
  s.bootstrap = j.at("bootstrap");
  s.seed = j.at("seed");
  return s;
}

SweepSpec parse_sweep_spec(const std::string& text, const std::string& src) {
  toml::table root;
  try {
    root = toml::parse(text, src);
  } catch (const toml::parse_error& e) {
    throw Error(src + ": " + std::string(e.description()));
  }
  check_keys(root, {"model", "dataset", "evaluation", "ablation", "statistics"}, src);
  SweepSpec s;
  const toml::array* models = root.get("model") ? root.get("model")->as_array() : nullptr;
  require(models && !models->empty(), src + ": no [[model]] tables");
  for (const auto& n : *models) {
    const toml::table* t = n.as_table();
    require(t != nullptr, src + ": [[model]] entries must be tables");
    check_keys(*t, {"path", "classifications"}, src + " [[model]]");
    SweepSpec::ModelEntry e{get_or<std::string>(t, "path", "", src + " model"),
                            get_or<std::string>(t, "classifications", "", src + " model")};
    require(!e.path.empty(), src + ": a [[model]] has no path");
    e.path = abs_path(e.path);
    e.classifications = abs_path(e.classifications);
    s.models.push_back(e);
  }
  const toml::array* dsets = root.get("dataset") ? root.get("dataset")->as_array() : nullptr;
  require(dsets && !dsets->empty(), src + ": no [[dataset]] tables");
  for (const auto& n : *dsets) {
    const toml::table* t = n.as_table();
    require(t != nullptr, src + ": [[dataset]] entries must be tables");
    check_keys(*t, {"path", "field", "split_on", "max_docs"}, src + " [[dataset]]");
    SweepDataset d;
    d.path = abs_path(get_or<std::string>(t, "path", "", src + " dataset"));
    require(!d.path.empty(), src + ": a [[dataset]] has no path");
    d.field = get_or<std::string>(t, "field", "text", src + " dataset");
    d.split_on = get_or<std::string>(t, "split_on", "", src + " dataset");
    d.max_docs = get_or<int64_t>(t, "max_docs", 0, src + " dataset");
    require(d.max_docs >= 0, src + ": dataset.max_docs must be >= 0");
    s.datasets.push_back(d);
  }
  const toml::table* ev = table_of(root, "evaluation", src);
  if (ev) check_keys(*ev, {"max_tokens", "newlines", "context", "stride", "threads"}, src + " [evaluation]");
  s.max_tokens = get_or<int64_t>(ev, "max_tokens", 1000, src + " evaluation");
  s.newlines = get_or<std::string>(ev, "newlines", "lf", src + " evaluation");
  s.context = get_or<int64_t>(ev, "context", 0, src + " evaluation");
  s.stride = get_or<int64_t>(ev, "stride", 0, src + " evaluation");
  s.threads = get_or<int64_t>(ev, "threads", 0, src + " evaluation");
  require(s.max_tokens >= 0 && s.threads >= 0, src + ": evaluation.max_tokens and threads must be >= 0");
  parse_newlines(s.newlines);
  require((s.context > 0) == (s.stride > 0), src + ": evaluation.context and stride go together");
  require(s.stride < s.context || s.context == 0, src + ": need 2 <= context and 1 <= stride < context");
  const toml::table* ab = table_of(root, "ablation", src);
  if (ab) check_keys(*ab, {"config", "groups"}, src + " [ablation]");
  s.ablation_config = abs_path(get_or<std::string>(ab, "config", "configs/ablation.toml", src + " ablation"));
  if (ab && ab->get("groups")) {
    const toml::array* g = ab->get("groups")->as_array();
    require(g != nullptr, src + ": ablation.groups must be an array of strings");
    for (const auto& x : *g) {
      require(x.is_string(), src + ": ablation.groups must be an array of strings");
      s.groups.push_back(x.as_string()->get());
    }
  }
  const toml::table* st = table_of(root, "statistics", src);
  if (st) check_keys(*st, {"bootstrap", "seed"}, src + " [statistics]");
  s.bootstrap = get_or<int64_t>(st, "bootstrap", 1000, src + " statistics");
  s.seed = get_or<uint64_t>(st, "seed", 0, src + " statistics");
  require(s.bootstrap >= 1, src + ": statistics.bootstrap must be >= 1");
  return s;
}

SweepSpec load_sweep_spec(const std::string& path) { return parse_sweep_spec(read_file(path), path); }

nlohmann::json SweepUnit::to_json() const {
  return {{"id", id},         {"index", index}, {"model", model}, {"document", document},
          {"config", config}, {"group", group}, {"params", params}};
}

std::string unit_id(const SweepManifest& m, const SweepUnit& u) {
  const auto& d = m.documents.at(u.document);
  nlohmann::json key = {{"model", m.spec.models.at(u.model).path},
                        {"classifications", u.config == "dense" ? "" : m.spec.models.at(u.model).classifications},
                        {"document", d.name},
                        {"document_sha256", d.sha256},
                        {"config", u.config},
                        {"params", u.params},
                        {"max_tokens", m.spec.max_tokens},
                        {"newlines", m.spec.newlines},
                        {"context", m.spec.context},
                        {"stride", m.spec.stride}};
  return sha256_hex(key.dump()).substr(0, 16);
}

nlohmann::json SweepManifest::to_json() const {
  nlohmann::json docs = nlohmann::json::array(), us = nlohmann::json::array();
  for (const auto& d : documents) docs.push_back({{"name", d.name}, {"sha256", d.sha256}, {"dataset", d.dataset}});
  for (const auto& u : units) us.push_back(u.to_json());
  return {{"schema", kSweepSchema}, {"spec", spec.to_json()}, {"reference_group", reference_group},
          {"documents", docs},      {"units", us}};
}

SweepManifest SweepManifest::from_json(const nlohmann::json& j, const std::string& what) {
  SweepManifest m;
  try {
    require(j.is_object() && j.value("schema", "") == kSweepSchema,
            what + " is not a sweep manifest (schema " + kSweepSchema + ")");
    m.spec = SweepSpec::from_json(j.at("spec"));
    m.reference_group = j.at("reference_group");
    for (const auto& d : j.at("documents")) m.documents.push_back({d.at("name"), d.at("sha256"), d.at("dataset")});
    for (const auto& u : j.at("units")) {
      SweepUnit x;
      x.id = u.at("id");
      x.index = u.at("index");
      x.model = u.at("model");
      x.document = u.at("document");
      x.config = u.at("config");
      x.group = u.at("group");
      x.params = u.at("params");
      m.units.push_back(x);
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error("inconsistent manifest " + what + ": " + e.what());
  }
  std::set<std::string> ids;
  for (size_t i = 0; i < m.units.size(); ++i) {
    const auto& u = m.units[i];
    const std::string where = "inconsistent manifest " + what + ": unit " + std::to_string(i);
    require(u.index == static_cast<int64_t>(i), where + " has index " + std::to_string(u.index));
    require(u.model >= 0 && u.model < static_cast<int64_t>(m.spec.models.size()), where + " names no model");
    require(u.document >= 0 && u.document < static_cast<int64_t>(m.documents.size()), where + " names no document");
    require(unit_id(m, u) == u.id, where + " (" + u.id + ") does not match its fields");
    require(ids.insert(u.id).second, where + " repeats id " + u.id);
  }
  require(!m.units.empty(), "inconsistent manifest " + what + ": no units");
  return m;
}

SweepManifest SweepManifest::load(const std::string& dir) {
  const std::string p = manifest_path(dir);
  require(fs::exists(p), "no sweep manifest " + p + " (run `headscope sweep plan SPEC.toml --out " + dir + "`)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(p));
  } catch (const nlohmann::json::exception&) {
    throw Error("inconsistent manifest " + p + ": not valid JSON");
  }
  return from_json(j, p);
}

SweepManifest plan_sweep(const SweepSpec& spec) {
  SweepManifest m;
  m.spec = spec;
  AblationPlan plan = load_ablation_plan(spec.ablation_config);
  plan = select_groups(plan, spec.groups);
  m.reference_group = plan.reference_group;
  for (size_t i = 0; i < spec.datasets.size(); ++i) {
    const auto& ds = spec.datasets[i];
    DocumentSource src;
    src.dataset = ds.path;
    src.field = ds.field;
    src.split_on = ds.split_on;
    src.max_docs = ds.max_docs;
    src.newlines = parse_newlines(spec.newlines);
    for (const auto& d : load_documents(src))
      m.documents.push_back({d.name, sha256_hex(d.text), static_cast<int64_t>(i)});
  }
  for (size_t mi = 0; mi < spec.models.size(); ++mi) {
    if (plan.needs_classifications())
      require(!spec.models[mi].classifications.empty(),
              "model " + spec.models[mi].path + ": the selected configurations need its classifications");
    for (size_t di = 0; di < m.documents.size(); ++di) {
      SweepUnit dense;
      dense.model = static_cast<int64_t>(mi);
      dense.document = static_cast<int64_t>(di);
      dense.config = "dense";
      m.units.push_back(dense);
      for (const auto& c : plan.configs) {
        require(c.name != "dense", "an ablation configuration may not be named 'dense'");
        SweepUnit u = dense;
        u.config = c.name;
        u.group = c.group;
        u.params = c.params();
        m.units.push_back(u);
      }
    }
  }
  for (size_t i = 0; i < m.units.size(); ++i) {
    m.units[i].index = static_cast<int64_t>(i);
    m.units[i].id = unit_id(m, m.units[i]);
  }
  return m;
}

std::string manifest_path(const std::string& dir) { return (fs::path(dir) / "manifest.json").string(); }
std::string unit_result_path(const std::string& dir, const std::string& id) {
  return (fs::path(dir) / "units" / (id + ".json")).string();
}

}  // namespace headscope
