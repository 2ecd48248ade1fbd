#include "cli/method_options.h"

#include <algorithm>
#include <cstdio>
#include <set>

namespace headscope::cli {

std::string method_help() {
  std::string h = "dense";
  for (auto* c : compressors()) h += " | " + c->name;
  std::string p;
  for (auto* i : presses())
    if (!find_compressor(i->name)) p += (p.empty() ? "" : " | ") + i->name;
  h += "; with --protocol prefill --compression-ratio R the kvpress-style presses:";
  for (auto* i : presses()) h += " " + i->name;
  return h + " (" + p + " run only under --protocol prefill)";
}

namespace {
// INT, FLOAT, TEXT or {a,b}: from the first declaration of the flag.
std::string type_name(const std::string& flag) {
  const OptionSpec* spec = flag == compression_ratio_option().flag ? &compression_ratio_option() : nullptr;
  for (auto* c : compressors())
    for (const auto& s : c->options)
      if (!spec && s.flag == flag) spec = &s;
  for (auto* p : presses())
    for (const auto& s : p->options)
      if (!spec && s.flag == flag) spec = &s;
  if (!spec) return "VALUE";
  switch (spec->type) {
    case OptionType::Int: return "INT";
    case OptionType::Double: return "FLOAT";
    case OptionType::Text: return "TEXT";
    case OptionType::Choice: {
      std::string c;
      for (const auto& x : spec->choices) c += (c.empty() ? "{" : ",") + x;
      return c + "}";
    }
  }
  return "VALUE";
}
}  // namespace

void add_method_options(CLI::App* sub, MethodArgs& a) {
  std::vector<std::string> flags;
  auto add = [&](const std::string& f) {
    if (std::find(flags.begin(), flags.end(), f) == flags.end()) flags.push_back(f);
  };
  for (auto* c : compressors())
    for (const auto& s : c->options) add(s.flag);
  add(compression_ratio_option().flag);
  for (auto* p : presses())
    for (const auto& s : p->options) add(s.flag);
  for (const auto& f : flags) {
    sub->add_option_function<std::string>(
           "--" + f, [&a, f](const std::string& v) { a.given[f] = v; }, option_help(f))
        ->type_name(type_name(f));
  }
  sub->add_option("--skip-layers", a.skip_layers, "compressors: layers never compressed, e.g. 0,1")
      ->delimiter(',');
}

namespace {

MethodOptions from(const MethodArgs& a, const std::vector<std::string>* only, bool skip) {
  MethodOptions o;
  for (const auto& [f, v] : a.given)
    if (!only || std::find(only->begin(), only->end(), f) != only->end()) o.values[f] = v;
  if (skip) o.skip_layers = a.skip_layers;
  return o;
}

}  // namespace

MethodOptions compressor_options(const MethodArgs& a) { return from(a, nullptr, true); }
MethodOptions press_options(const MethodArgs& a) { return from(a, nullptr, true); }

MethodOptions compressor_options_for(const MethodArgs& a, const std::string& method) {
  const std::vector<std::string> f = compressor_flags(method);
  return from(a, &f, true);
}

MethodOptions press_options_for(const MethodArgs& a, const std::string& method) {
  const MethodOptions all = from(a, nullptr, false);
  const std::vector<std::string> f = press_flags(method, &all);
  return from(a, &f, false);
}

void check_applies_to_some(const MethodArgs& a, const std::vector<std::string>& methods,
                           bool presses, const std::string& what) {
  std::set<std::string> taken;
  for (const auto& m : methods)
    for (const auto& f : presses ? press_flags(m) : compressor_flags(m)) taken.insert(f);
  for (const auto& [f, v] : a.given)
    if (!taken.count(f)) usage_error("--" + f + " does not apply to any method of " + what);
  if (presses && !a.skip_layers.empty())
    usage_error("--skip-layers does not apply to any method of " + what);
}

void check_dense(const MethodArgs& a) {
  for (const auto& [f, v] : a.given)
    if (f != compression_ratio_option().flag) usage_error("--" + f + " does not apply to --method dense");
  if (!a.skip_layers.empty()) usage_error("--skip-layers does not apply to --method dense");
}

void usage_error(const std::string& msg) { throw UsageError(msg); }

}  // namespace headscope::cli
