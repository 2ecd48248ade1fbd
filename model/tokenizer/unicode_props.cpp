#include "model/tokenizer/unicode_props.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <array>
#include <cstdio>
#include <cstring>
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

void append_utf8(std::string& out, uint32_t cp) {
  utf8proc_uint8_t buf[4];
  out.append(reinterpret_cast<char*>(buf), utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf));
}

void add(Ranges& r, uint32_t cp) {
  if (!r.empty() && r.back().second + 1 == cp) r.back().second = cp;
  else r.emplace_back(cp, cp);
}

struct Tables {
  std::map<std::string, Ranges, std::less<>> sets;  // two-letter categories and major classes
  std::string assigned;  // UTF-8 of every code point not Cn, Co or Cs, in order
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
      if (cat[0] != 'C' || cat[1] == 'c' || cat[1] == 'f') append_utf8(assigned, cp);
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

// a minus b, both sorted and disjoint
Ranges minus(const Ranges& a, const Ranges& b) {
  Ranges out;
  size_t j = 0;
  for (auto [lo, hi] : a) {
    uint32_t cur = lo;
    while (j < b.size() && b[j].second < cur) ++j;
    size_t k = j;
    bool done = false;
    for (; k < b.size() && b[k].first <= hi; ++k) {
      if (b[k].first > cur) out.emplace_back(cur, b[k].first - 1);
      if (b[k].second >= hi) { done = true; break; }
      cur = b[k].second + 1;
    }
    if (!done) out.emplace_back(cur, hi);
  }
  return out;
}

// PCRE2's own \p{name} restricted to `assigned`; false if PCRE2 cannot tell (no such property).
bool pcre2_set(const std::string& name, const std::string& assigned, Ranges& out) {
  std::string pat = "\\p{" + name + "}+";
  int err = 0;
  PCRE2_SIZE off = 0;
  pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(), PCRE2_UTF, &err, &off, nullptr);
  if (!re) return false;
  bool jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(re, nullptr);
  auto subj = reinterpret_cast<PCRE2_SPTR>(assigned.data());
  size_t pos = 0;
  bool ok = md != nullptr;
  while (ok && pos < assigned.size()) {
    int rc = jit ? pcre2_jit_match(re, subj, assigned.size(), pos, 0, md, nullptr)
                 : pcre2_match(re, subj, assigned.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) { ok = false; break; }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    for (size_t i = ov[0]; i < ov[1];) {
      utf8proc_int32_t cp = 0;
      i += utf8proc_iterate(subj + i, static_cast<utf8proc_ssize_t>(ov[1] - i), &cp);
      add(out, static_cast<uint32_t>(cp));
    }
    pos = ov[1];
  }
  if (md) pcre2_match_data_free(md);
  pcre2_code_free(re);
  return ok;
}

// PCRE2's Unicode version is at most 16.0, so every code point it assigns is assigned in 16.0.
bool pcre2_unicode_at_most_16() {
  char v[32] = {0};
  if (pcre2_config(PCRE2_CONFIG_UNICODE_VERSION, v) < 0) return false;
  int major = 0, minor = 0;
  if (std::sscanf(v, "%d.%d", &major, &minor) != 2) return false;
  return major < 16 || (major == 16 && minor == 0);
}

// PCRE2's \p{name} (a table lookup, fast under JIT) plus the ranges it lacks, when that is the
// whole Unicode 16.0 set: PCRE2's set (a subset of the assigned code points) has nothing 16.0
// leaves out. Otherwise every range spelled out, which matches correctly but slowly: PCRE2 tests
// an explicit class range by range.
std::string positive_body(const std::string& name, const Ranges& want) {
  Ranges have;
  if (pcre2_unicode_at_most_16() && pcre2_set(name, tables().assigned, have) && minus(have, want).empty())
    return "\\p{" + name + "}" + class_body(minus(want, have));
  return class_body(want);
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
  if (it == cache.end())
    it = cache.emplace(key, negated ? class_body(complement(*r)) : positive_body(std::string(name), *r)).first;
  return &it->second;  // std::map nodes are stable
}

}  // namespace headscope::tok
