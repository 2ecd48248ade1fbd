#include "model/tokenizer/unicode_props.h"

#include <utf8proc.h>

#include <array>
#include <cstdio>
#include <map>
#include <mutex>

namespace headscope::tok {

namespace {
using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;

struct DeltaRange {
  uint32_t first, last;
  const char* category;
};
// Code points whose Unicode 16.0 category differs from utf8proc 2.8's (Unicode 15.0), sorted.
// With a newer utf8proc the entries are already right there: applying them changes nothing.
constexpr DeltaRange kDelta[] = {
#include "model/tokenizer/unicode_delta.inc"
};

void add(Ranges& r, uint32_t cp) {
  if (!r.empty() && r.back().second + 1 == cp) r.back().second = cp;
  else r.emplace_back(cp, cp);
}

struct Tables {
  std::map<std::string, Ranges, std::less<>> sets;  // two-letter categories and major classes
  Tables() {
    const char* names[] = {"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No",
                           "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So",
                           "Zs", "Zl", "Zp"};
    for (const char* n : names) {
      sets[n];
      sets[std::string(1, n[0])];
    }
    std::array<Ranges*, 128 * 128> by_code{};  // two ASCII letters -> set
    for (const char* n : names) by_code[n[0] * 128 + n[1]] = &sets.find(n)->second;
    size_t d = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
      if (cp == 0xD800) cp = 0xE000;
      while (d < std::size(kDelta) && kDelta[d].last < cp) ++d;
      const char* cat = d < std::size(kDelta) && kDelta[d].first <= cp
                            ? kDelta[d].category
                            : utf8proc_category_string(static_cast<utf8proc_int32_t>(cp));
      Ranges* two = by_code[(cat[0] & 127) * 128 + (cat[1] & 127)];
      if (!two) continue;  // C*: not offered
      add(*two, cp);
      add(sets.find(std::string_view(cat, 1))->second, cp);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

std::string class_body(const Ranges& r) {
  std::string s;
  char buf[32];
  for (auto [a, b] : r) {
    if (a == b) std::snprintf(buf, sizeof buf, "\\x{%X}", a);
    else std::snprintf(buf, sizeof buf, "\\x{%X}-\\x{%X}", a, b);
    s += buf;
  }
  return s;
}

Ranges complement(const Ranges& r) {
  Ranges out;
  uint32_t next = 0;
  auto gap = [&](uint32_t a, uint32_t b) {  // [a, b] minus the surrogates
    if (a > b) return;
    if (b < 0xD800 || a > 0xDFFF) { out.emplace_back(a, b); return; }
    if (a < 0xD800) out.emplace_back(a, 0xD7FF);
    if (b > 0xDFFF) out.emplace_back(0xE000, b);
  };
  for (auto [a, b] : r) {
    if (a > next) gap(next, a - 1);
    next = b + 1;
  }
  if (next <= 0x10FFFF) gap(next, 0x10FFFF);
  return out;
}
}  // namespace

const char* property_unicode_version() { return "16.0.0"; }

const Ranges* property_ranges(std::string_view name) {
  const auto& sets = tables().sets;
  auto it = sets.find(name);
  return it == sets.end() ? nullptr : &it->second;
}

const std::string* property_class_body(std::string_view name, bool negated) {
  static std::mutex mu;
  static std::map<std::string, std::string, std::less<>> cache;  // key: name, "^" first if negated
  const Ranges* r = property_ranges(name);
  if (!r) return nullptr;
  std::string key = (negated ? "^" : "") + std::string(name);
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, class_body(negated ? complement(*r) : *r)).first;
  return &it->second;  // std::map nodes are stable
}

}  // namespace headscope::tok
