#include "compress/registry.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "compress/compressor.h"
#include "compress/prefill_press.h"

namespace headscope {

namespace {

// Function-local statics: registration from other translation units' static initialisers may
// run before this file's globals would be constructed.
std::vector<CompressorInfo>& compressor_table() {
  static std::vector<CompressorInfo> t;
  return t;
}
std::vector<PressInfo>& press_table() {
  static std::vector<PressInfo> t;
  return t;
}

template <class Info>
std::vector<const Info*> sorted(const std::vector<Info>& table) {
  std::vector<const Info*> out;
  for (const auto& i : table) out.push_back(&i);
  std::sort(out.begin(), out.end(), [](const Info* a, const Info* b) {
    return a->rank != b->rank ? a->rank < b->rank : a->name < b->name;
  });
  return out;
}

std::string join_or(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i)
    s += (i == 0 ? "" : i + 1 == v.size() ? " or " : ", ") + v[i];
  return s;
}

std::string type_word(OptionType t) {
  switch (t) {
    case OptionType::Int: return "an integer";
    case OptionType::Double: return "a number";
    case OptionType::Choice: return "a choice";
    case OptionType::Text: return "a text";
  }
  return "";
}

void check_spec(const std::string& method, const OptionSpec& s) {
  auto bad = [&](const std::string& why) {
    throw std::logic_error("registry: " + method + " --" + s.flag + ": " + why);
  };
  if (s.flag.empty() || s.flag[0] == '-') bad("flag must be given without dashes");
  switch (s.type) {
    case OptionType::Int:
      if (!std::holds_alternative<int64_t>(s.default_value)) bad("default must be int64_t");
      break;
    case OptionType::Double:
      if (!std::holds_alternative<double>(s.default_value)) bad("default must be double");
      break;
    case OptionType::Choice:
      if (!std::holds_alternative<std::string>(s.default_value) || s.choices.empty() ||
          std::find(s.choices.begin(), s.choices.end(), std::get<std::string>(s.default_value)) ==
              s.choices.end())
        bad("default must be one of the choices");
      break;
    case OptionType::Text:
      if (!std::holds_alternative<std::string>(s.default_value)) bad("default must be a string");
      break;
  }
}

std::string range_text(const OptionSpec& s) {
  auto num = [&](double v) {
    return format_option_value(s.type == OptionType::Int ? OptionValue(int64_t(v)) : OptionValue(v));
  };
  if (s.min && s.max)
    return std::string("in ") + (s.min_exclusive ? "(" : "[") + num(*s.min) + ", " + num(*s.max) +
           (s.max_exclusive ? ")" : "]");
  if (s.min) return std::string(s.min_exclusive ? "> " : ">= ") + num(*s.min);
  if (s.max) return std::string(s.max_exclusive ? "< " : "<= ") + num(*s.max);
  return "";
}

// The value of `s` given as `v`, converted to the option's type and checked against its range.
OptionValue convert(const std::string& method, const OptionSpec& s, const OptionValue& v) {
  const std::string who = method + ": --" + s.flag;
  const std::string shown = format_option_value(v);
  if (s.type == OptionType::Text) {
    const std::string* t = std::get_if<std::string>(&v);
    if (!t) throw Error(who + " must be a text, got " + shown);
    return *t;
  }
  if (s.type == OptionType::Choice) {
    const std::string* t = std::get_if<std::string>(&v);
    if (!t || std::find(s.choices.begin(), s.choices.end(), *t) == s.choices.end())
      throw Error(method + ": unknown --" + s.flag + " '" + shown + "' (expected " +
                  join_or(s.choices) + ")");
    return *t;
  }
  double x = 0;
  int64_t i = 0;
  if (const std::string* t = std::get_if<std::string>(&v)) {
    size_t used = 0;
    try {
      if (s.type == OptionType::Int)
        i = std::stoll(*t, &used);
      else
        x = std::stod(*t, &used);
    } catch (const std::exception&) {
      used = std::string::npos;
    }
    if (t->empty() || used != t->size())
      throw Error(who + " must be " + type_word(s.type) + ", got '" + *t + "'");
    if (s.type == OptionType::Int) x = double(i);
  } else if (const int64_t* n = std::get_if<int64_t>(&v)) {
    i = *n;
    x = double(*n);
  } else {
    x = std::get<double>(v);
    if (s.type == OptionType::Int) {
      if (!(std::isfinite(x) && x == std::floor(x)))
        throw Error(who + " must be an integer, got " + shown);
      i = int64_t(x);
    }
  }
  if (!std::isfinite(x)) throw Error(who + " must be a finite number, got " + shown);
  const bool low = s.min && (s.min_exclusive ? !(x > *s.min) : !(x >= *s.min));
  const bool high = s.max && (s.max_exclusive ? !(x < *s.max) : !(x <= *s.max));
  if (low || high) throw Error(who + " must be " + range_text(s) + ", got " + shown);
  return s.type == OptionType::Int ? OptionValue(i) : OptionValue(x);
}

// Every declared flag of `specs`, typed: the given value or the default. A given flag neither in
// `specs` nor in `also_allowed` is refused as not applicable to `label`.
ResolvedOptions resolve(const std::string& method, const std::string& label,
                        const std::vector<OptionSpec>& specs, const MethodOptions& given,
                        const std::set<std::string>& also_allowed) {
  ResolvedOptions r;
  for (const auto& [flag, v] : given.values) {
    (void)v;
    const bool declared = std::any_of(specs.begin(), specs.end(),
                                      [&](const OptionSpec& s) { return s.flag == flag; });
    if (!declared && !also_allowed.count(flag))
      throw OptionNotApplicable("--" + flag + " does not apply to --method " + label);
  }
  for (const auto& s : specs) {
    auto it = given.values.find(s.flag);
    r.explicit_[s.flag] = it != given.values.end();
    r.values[s.flag] = it != given.values.end() ? convert(method, s, it->second) : s.default_value;
  }
  return r;
}

std::vector<std::string> method_names(const std::vector<const CompressorInfo*>& v) {
  std::vector<std::string> n;
  for (auto* i : v) n.push_back(i->name);
  return n;
}

}  // namespace

OptionSpec int_option(std::string flag, int64_t def, std::optional<double> min,
                      std::optional<double> max, std::string help) {
  OptionSpec s;
  s.flag = std::move(flag);
  s.type = OptionType::Int;
  s.default_value = def;
  s.min = min;
  s.max = max;
  s.help = std::move(help);
  return s;
}

OptionSpec real_option(std::string flag, double def, std::optional<double> min,
                       std::optional<double> max, std::string help) {
  OptionSpec s = int_option(std::move(flag), 0, min, max, std::move(help));
  s.type = OptionType::Double;
  s.default_value = def;
  return s;
}

OptionSpec choice_option(std::string flag, std::string def, std::vector<std::string> choices,
                         std::string help) {
  OptionSpec s = int_option(std::move(flag), 0, std::nullopt, std::nullopt, std::move(help));
  s.type = OptionType::Choice;
  s.default_value = std::move(def);
  s.choices = std::move(choices);
  return s;
}

OptionSpec text_option(std::string flag, std::string def, std::string help) {
  OptionSpec s = int_option(std::move(flag), 0, std::nullopt, std::nullopt, std::move(help));
  s.type = OptionType::Text;
  s.default_value = std::move(def);
  return s;
}

// ---- ResolvedOptions -------------------------------------------------------------------------

namespace {
const OptionValue& lookup(const std::map<std::string, OptionValue>& m, const std::string& flag) {
  auto it = m.find(flag);
  if (it == m.end()) throw std::logic_error("registry: option --" + flag + " was not declared");
  return it->second;
}
}  // namespace

int64_t ResolvedOptions::integer(const std::string& flag) const {
  return std::get<int64_t>(lookup(values, flag));
}
double ResolvedOptions::real(const std::string& flag) const {
  return std::get<double>(lookup(values, flag));
}
const std::string& ResolvedOptions::text(const std::string& flag) const {
  return std::get<std::string>(lookup(values, flag));
}
bool ResolvedOptions::given(const std::string& flag) const {
  auto it = explicit_.find(flag);
  return it != explicit_.end() && it->second;
}

// ---- registration and lookup -------------------------------------------------------------------

bool register_compressor(CompressorInfo info) {
  for (const auto& s : info.options) check_spec(info.name, s);
  if (find_compressor(info.name)) throw std::logic_error("compressor registered twice: " + info.name);
  compressor_table().push_back(std::move(info));
  return true;
}

bool register_press(PressInfo info) {
  for (const auto& s : info.options) check_spec(info.name, s);
  if (find_press(info.name)) throw std::logic_error("press registered twice: " + info.name);
  press_table().push_back(std::move(info));
  return true;
}

std::vector<const CompressorInfo*> compressors() { return sorted(compressor_table()); }
std::vector<const PressInfo*> presses() { return sorted(press_table()); }

const CompressorInfo* find_compressor(const std::string& name) {
  for (const auto& i : compressor_table())
    if (i.name == name) return &i;
  return nullptr;
}

const PressInfo* find_press(const std::string& name) {
  for (const auto& i : press_table())
    if (i.name == name) return &i;
  return nullptr;
}

const OptionSpec& compression_ratio_option() {
  static const OptionSpec s = [] {
    OptionSpec r = real_option("compression-ratio", 0.5, 0.0, 1.0,
                               "share of the context's KV entries removed, in (0, 1); kept per KV "
                               "head: int(N*(1-ratio))");
    r.min_exclusive = r.max_exclusive = true;
    return r;
  }();
  return s;
}

// ---- factories -------------------------------------------------------------------------------

std::unique_ptr<Compressor> make_compressor(const std::string& method, const MethodOptions& given) {
  const CompressorInfo* info = find_compressor(method);
  if (!info) {
    std::vector<std::string> names = {"dense"};
    for (const auto& n : method_names(compressors())) names.push_back(n);
    throw Error("unknown compression method '" + method + "' (expected " + join_or(names) + ")");
  }
  const ResolvedOptions r = resolve(info->name, info->name, info->options, given, {});
  std::unique_ptr<Compressor> c = info->factory(r);
  c->set_skip_layers(given.skip_layers);
  return c;
}

std::unique_ptr<PrefillPress> make_prefill_press(const std::string& method, const MethodOptions& given) {
  const PressInfo* info = find_press(method);
  if (!info) {
    std::vector<std::string> names;
    for (auto* p : presses()) names.push_back(p->name);
    throw Error("method '" + method + "' is unknown to the prefill protocol with --compression-ratio (expected " +
                join_or(names) + ")");
  }
  if (!given.skip_layers.empty())
    throw OptionNotApplicable("--skip-layers does not apply to --method " + method +
                              " (a prefill press)");
  const OptionSpec& ratio_spec = compression_ratio_option();
  auto rit = given.values.find(ratio_spec.flag);
  require(rit != given.values.end(), "method " + method +
                                         " needs --compression-ratio (share of the context's "
                                         "entries removed, in (0, 1))");
  const double ratio = std::get<double>(convert(method, ratio_spec, rit->second));

  std::set<std::string> allowed = {ratio_spec.flag};
  const PressInfo* inner_info = nullptr;
  std::string label = method;
  if (!info->inner_press_flag.empty()) {
    // the inner press is chosen by an option of this press; its own flags apply too
    auto spec = std::find_if(info->options.begin(), info->options.end(),
                             [&](const OptionSpec& s) { return s.flag == info->inner_press_flag; });
    if (spec == info->options.end())
      throw std::logic_error("registry: " + method + " does not declare --" + info->inner_press_flag);
    auto it = given.values.find(info->inner_press_flag);
    const std::string inner = format_option_value(it != given.values.end() ? it->second : spec->default_value);
    inner_info = find_press(inner);
    std::vector<std::string> ok;
    for (auto* p : presses())
      if (p->inner_press_flag.empty()) ok.push_back(p->name);
    if (!inner_info || !inner_info->inner_press_flag.empty())
      throw Error(method + ": --" + info->inner_press_flag + " must be " + join_or(ok) + ", got '" +
                  inner + "'");
    for (const auto& s : inner_info->options) allowed.insert(s.flag);
    label = method + " --" + info->inner_press_flag + " " + inner;
  }
  const ResolvedOptions r = resolve(method, label, info->options, given, allowed);
  std::unique_ptr<PrefillPress> inner;
  if (inner_info) {
    MethodOptions sub;
    sub.values[ratio_spec.flag] = ratio;
    for (const auto& s : inner_info->options) {
      auto it = given.values.find(s.flag);
      if (it != given.values.end()) sub.values[s.flag] = it->second;
    }
    inner = make_prefill_press(inner_info->name, sub);
  }
  return info->factory(r, ratio, std::move(inner));
}

// ---- flags and help --------------------------------------------------------------------------

std::vector<std::string> compressor_flags(const std::string& method) {
  std::vector<std::string> f;
  if (const CompressorInfo* i = find_compressor(method))
    for (const auto& s : i->options) f.push_back(s.flag);
  return f;
}

std::vector<std::string> press_flags(const std::string& method, const MethodOptions* given) {
  std::vector<std::string> f;
  const PressInfo* i = find_press(method);
  if (!i) return f;
  f.push_back(compression_ratio_option().flag);
  for (const auto& s : i->options) f.push_back(s.flag);
  if (i->inner_press_flag.empty()) return f;
  std::string inner;
  if (given) {
    auto it = given->values.find(i->inner_press_flag);
    for (const auto& s : i->options)
      if (s.flag == i->inner_press_flag) inner = format_option_value(s.default_value);
    if (it != given->values.end()) inner = format_option_value(it->second);
  }
  for (auto* p : presses())
    if (p->inner_press_flag.empty() && (!given || p->name == inner))
      for (const auto& s : p->options)
        if (std::find(f.begin(), f.end(), s.flag) == f.end()) f.push_back(s.flag);
  return f;
}

std::string format_option_value(const OptionValue& v) {
  if (const int64_t* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const double* d = std::get_if<double>(&v)) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", *d);
    return b;
  }
  return std::get<std::string>(v);
}

std::string option_help(const std::string& flag) {
  if (flag == compression_ratio_option().flag) return "prefill presses: " + compression_ratio_option().help;
  std::string h;
  auto add = [&](const std::string& name, const OptionSpec& s, const char* kind) {
    if (s.flag != flag) return;
    h += (h.empty() ? "" : "; ") + name + kind + ": " + s.help + " (default " +
         format_option_value(s.default_value) + ")";
  };
  for (auto* c : compressors())
    for (const auto& s : c->options) add(c->name, s, "");
  for (auto* p : presses())
    for (const auto& s : p->options) add(p->name, s, find_compressor(p->name) ? " press" : "");
  return h;
}

}  // namespace headscope
