#include "headaware/policy_builders.h"

#include <cmath>
#include <sstream>

#include "common/error.h"
#include "formats/policy_file.h"

namespace headscope {

const std::vector<std::string>& known_head_types() {
  static const std::vector<std::string> t = {"dead",  "sink_positional", "true_positional",
                                             "positional", "mixed", "sink_mixed", "gathering"};
  return t;
}

bool is_known_head_type(const std::string& type) {
  for (const auto& t : known_head_types())
    if (t == type) return true;
  return false;
}

std::string legacy_alias(const std::string& type) {
  if (type == "sink_positional" || type == "true_positional") return "positional";
  if (type == "sink_mixed") return "mixed";
  return "";
}

std::optional<int64_t> lookup_window(const WindowByType& table, const std::string& type) {
  auto it = table.find(type);
  if (it != table.end()) return it->second;
  const std::string alias = legacy_alias(type);
  if (!alias.empty()) {
    it = table.find(alias);
    if (it != table.end()) return it->second;
  }
  return std::nullopt;
}

const WindowByType& default_type_windows() {
  static const WindowByType d = {{"positional", 8}, {"sink_positional", 8},
                                 {"true_positional", 8}, {"mixed", 64},
                                 {"sink_mixed", 24},  {"gathering", -1},
                                 {"dead", 0}};
  return d;
}

void check_window(int64_t window, const std::string& what) {
  require(window >= -1, what + " must be -1 (full context), 0 (dead head) or a positive number "
                               "of tokens, got " + std::to_string(window));
}

void check_sink(int64_t sink, const std::string& what) {
  require(sink >= 0, what + " must be >= 0, got " + std::to_string(sink));
}

void check_threshold(double t, const std::string& what) {
  std::ostringstream s;
  s << t;
  require(std::isfinite(t) && t >= 0.0 && t <= 1.0,
          what + " must lie in [0, 1], got " + s.str());
}

void check_window_table(const WindowByType& table, const std::string& what) {
  for (const auto& [type, w] : table) {
    if (!is_known_head_type(type)) {
      std::string list;
      for (const auto& t : known_head_types()) list += (list.empty() ? "" : ", ") + t;
      throw Error(what + ": unknown head type '" + type + "' (known: " + list + ")");
    }
    check_window(w, what + "." + type);
  }
}

namespace {

double confidence_of(const HeadClassification& h) {
  return std::isfinite(h.confidence) ? h.confidence : 0.5;  // missing/invalid counts as 0.5
}

HeadWindow make(int64_t sink, int64_t window) {
  HeadWindow hw;
  hw.sink = sink;
  hw.window = window;
  return hw;
}

void check_file(const ClassificationFile& f) {
  require(f.num_layers > 0 && f.num_heads > 0 &&
              f.heads.size() == static_cast<size_t>(f.num_layers * f.num_heads),
          "classification record is empty or incomplete (" + std::to_string(f.heads.size()) +
              " heads for " + std::to_string(f.num_layers) + " layers x " +
              std::to_string(f.num_heads) + " heads)");
}

}  // namespace

Visibility uniform_policy(int64_t layers, int64_t heads, const UniformParams& p) {
  check_sink(p.sink, "sink");
  check_window(p.window, "window");
  require(layers > 0 && heads > 0, "uniform policy needs a positive layer and head count");
  return Visibility(layers, heads, make(p.sink, p.window));
}

int64_t from_classifications_window(const HeadClassification& h, const WindowByType& override_) {
  if (auto w = lookup_window(override_, h.type)) return *w;
  if (h.recommended_window > 0) return h.recommended_window;
  if (auto w = lookup_window(default_type_windows(), h.type)) return *w;
  return 64;
}

// Every (layer, head) gets (sink, window_of(its classification)).
template <class WindowOf>
Visibility per_head(const ClassificationFile& f, int64_t sink, const WindowOf& window_of) {
  Visibility v(f.num_layers, f.num_heads);
  for (int64_t l = 0; l < f.num_layers; ++l)
    for (int64_t h = 0; h < f.num_heads; ++h) v.at(l, h) = make(sink, window_of(f.at(l, h)));
  return v;
}

Visibility from_classifications_policy(const ClassificationFile& f,
                                       const FromClassificationsParams& p) {
  check_file(f);
  check_sink(p.sink, "sink");
  check_window_table(p.window_override, "window_override");
  return per_head(f, p.sink, [&](const HeadClassification& c) {
    return from_classifications_window(c, p.window_override);
  });
}

Visibility confidence_policy(const ClassificationFile& f, const ConfidenceParams& p) {
  check_file(f);
  check_sink(p.sink, "sink");
  check_threshold(p.threshold, "threshold");
  check_window(p.base_window, "base_window");
  check_window_table(p.high_conf_windows, "high_conf_windows");
  return per_head(f, p.sink, [&](const HeadClassification& c) {
    if (confidence_of(c) < p.threshold) return p.base_window;
    return lookup_window(p.high_conf_windows, c.type).value_or(p.base_window);
  });
}

Visibility inverse_policy(const ClassificationFile& f, const InverseParams& p) {
  check_file(f);
  check_sink(p.sink, "sink");
  check_window(p.base_window, "base_window");
  check_window(p.gathering_window, "gathering_window");
  check_threshold(p.gathering_confidence_threshold, "gathering_confidence_threshold");
  return per_head(f, p.sink, [&](const HeadClassification& c) {
    const bool g = c.type == "gathering" && confidence_of(c) >= p.gathering_confidence_threshold;
    return g ? p.gathering_window : p.base_window;
  });
}

double nominal_context(const Visibility& v, int64_t text_tokens) {
  const int64_t n = v.layers() * v.heads();
  if (n == 0) return 0.0;
  double total = 0;
  for (int64_t l = 0; l < v.layers(); ++l)
    for (int64_t h = 0; h < v.heads(); ++h) {
      const HeadWindow& hw = v.at(l, h);
      // The original: `1024 # placeholder` for full heads; we use the text length.
      total += hw.full() ? double(text_tokens) : double(hw.sink + hw.window);
    }
  return total / double(n);
}

std::map<int64_t, int64_t> window_histogram(const Visibility& v) {
  std::map<int64_t, int64_t> m;
  for (int64_t l = 0; l < v.layers(); ++l)
    for (int64_t h = 0; h < v.heads(); ++h) ++m[v.at(l, h).window];
  return m;
}

// ---- the builder registry -----------------------------------------------------------------

namespace {

// A parameter that is the member `m` of the builder's struct P.
template <class P, class T>
BuilderParam member(std::string key, ParamKind kind, T P::*m) {
  return {std::move(key), kind,
          [m](BuilderParams& b, const ParamValue& v) { std::get<P>(b).*m = std::get<T>(v); },
          [m](const BuilderParams& b) { return nlohmann::json(std::get<P>(b).*m); }};
}

std::vector<BuilderInfo> make_builders() {
  std::vector<BuilderInfo> t;
  {
    BuilderInfo b;
    b.name = "uniform";
    b.needs_classifications = false;
    b.defaults = UniformParams{};
    b.params = {member("sink", ParamKind::Int, &UniformParams::sink),
                member("window", ParamKind::Int, &UniformParams::window)};
    b.validate = [](const BuilderParams& v) {
      const auto& p = std::get<UniformParams>(v);
      check_sink(p.sink, "sink");
      check_window(p.window, "window");
    };
    b.build = [](const BuilderParams& v, int64_t layers, int64_t heads, const ClassificationFile*) {
      return uniform_policy(layers, heads, std::get<UniformParams>(v));
    };
    t.push_back(std::move(b));
  }
  {
    BuilderInfo b;
    b.name = "from_classifications";
    b.defaults = FromClassificationsParams{};
    b.params = {member("sink", ParamKind::Int, &FromClassificationsParams::sink),
                member("window_override", ParamKind::Windows, &FromClassificationsParams::window_override)};
    b.validate = [](const BuilderParams& v) {
      const auto& p = std::get<FromClassificationsParams>(v);
      check_sink(p.sink, "sink");
      check_window_table(p.window_override, "window_override");
    };
    b.build = [](const BuilderParams& v, int64_t, int64_t, const ClassificationFile* cls) {
      return from_classifications_policy(*cls, std::get<FromClassificationsParams>(v));
    };
    t.push_back(std::move(b));
  }
  {
    BuilderInfo b;
    b.name = "confidence";
    b.defaults = ConfidenceParams{};
    b.params = {member("sink", ParamKind::Int, &ConfidenceParams::sink),
                member("threshold", ParamKind::Number, &ConfidenceParams::threshold),
                member("base_window", ParamKind::Int, &ConfidenceParams::base_window),
                member("high_conf_windows", ParamKind::Windows, &ConfidenceParams::high_conf_windows)};
    b.validate = [](const BuilderParams& v) {
      const auto& p = std::get<ConfidenceParams>(v);
      check_sink(p.sink, "sink");
      check_threshold(p.threshold, "threshold");
      check_window(p.base_window, "base_window");
      check_window_table(p.high_conf_windows, "high_conf_windows");
    };
    b.build = [](const BuilderParams& v, int64_t, int64_t, const ClassificationFile* cls) {
      return confidence_policy(*cls, std::get<ConfidenceParams>(v));
    };
    t.push_back(std::move(b));
  }
  {
    BuilderInfo b;
    b.name = "inverse";
    b.defaults = InverseParams{};
    b.params = {member("sink", ParamKind::Int, &InverseParams::sink),
                member("base_window", ParamKind::Int, &InverseParams::base_window),
                member("gathering_window", ParamKind::Int, &InverseParams::gathering_window),
                member("gathering_confidence_threshold", ParamKind::Number,
                       &InverseParams::gathering_confidence_threshold)};
    b.validate = [](const BuilderParams& v) {
      const auto& p = std::get<InverseParams>(v);
      check_sink(p.sink, "sink");
      check_window(p.base_window, "base_window");
      check_window(p.gathering_window, "gathering_window");
      check_threshold(p.gathering_confidence_threshold, "gathering_confidence_threshold");
    };
    b.build = [](const BuilderParams& v, int64_t, int64_t, const ClassificationFile* cls) {
      return inverse_policy(*cls, std::get<InverseParams>(v));
    };
    t.push_back(std::move(b));
  }
  {
    BuilderInfo b;
    b.name = "policy_file";
    b.needs_classifications = false;
    b.defaults = PolicyFileParams{};
    b.params = {member("file", ParamKind::String, &PolicyFileParams::file)};
    b.validate = [](const BuilderParams& v) {
      require(!std::get<PolicyFileParams>(v).file.empty(),
              "policy_file needs file = \"<policy file>\"");
    };
    b.build = [](const BuilderParams& v, int64_t layers, int64_t heads, const ClassificationFile*) {
      const std::string& file = std::get<PolicyFileParams>(v).file;
      PolicyFile pf = PolicyFile::load(file);
      require(pf.policy.layers() == layers && pf.policy.heads() == heads,
              file + " was made for " + pf.model.describe() + ", not " + std::to_string(layers) +
                  " layers x " + std::to_string(heads) + " KV heads");
      return pf.policy;
    };
    t.push_back(std::move(b));
  }
  // every table entry's defaults hold its own parameter struct
  for (const auto& b : t)
    for (const auto& p : b.params) p.get(b.defaults);
  return t;
}

}  // namespace

const BuilderParam* BuilderInfo::param(const std::string& key) const {
  for (const auto& p : params)
    if (p.key == key) return &p;
  return nullptr;
}

std::vector<std::string> BuilderInfo::param_keys() const {
  std::vector<std::string> k;
  for (const auto& p : params) k.push_back(p.key);
  return k;
}

const std::vector<BuilderInfo>& builders() {
  static const std::vector<BuilderInfo> t = make_builders();
  return t;
}

const std::vector<std::string>& known_builders() {
  static const std::vector<std::string> n = [] {
    std::vector<std::string> v;
    for (const auto& b : builders()) v.push_back(b.name);
    return v;
  }();
  return n;
}

const BuilderInfo& builder_info(const std::string& name) {
  for (const auto& b : builders())
    if (b.name == name) return b;
  std::string known;
  for (const auto& n : known_builders()) known += (known.empty() ? "" : ", ") + n;
  throw Error("unknown builder '" + name + "' (known: " + known + ")");
}

}  // namespace headscope
