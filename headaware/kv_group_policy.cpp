#include "headaware/kv_group_policy.h"

#include <limits>

#include "common/error.h"

namespace headscope {

GroupRule parse_group_rule(const std::string& s) {
  if (s == "max") return GroupRule::Max;
  if (s == "min") return GroupRule::Min;
  throw Error("KV-group rule must be max or min, got '" + s + "'");
}

const char* to_string(GroupRule r) { return r == GroupRule::Max ? "max" : "min"; }

namespace {

// Demand order of windows: dead (0) < finite windows ascending < full (-1).
int64_t demand(int64_t window) {
  return window < 0 ? std::numeric_limits<int64_t>::max() : window;
}

}  // namespace

Visibility kv_head_policy(const Visibility& q, int64_t kv_heads, GroupRule rule) {
  require(kv_heads > 0 && q.heads() % kv_heads == 0,
          "policy has " + std::to_string(q.heads()) + " heads per layer, not a multiple of " +
              std::to_string(kv_heads) + " KV heads");
  const int64_t G = q.heads() / kv_heads;
  Visibility v(q.layers(), kv_heads);
  for (int64_t l = 0; l < q.layers(); ++l)
    for (int64_t k = 0; k < kv_heads; ++k) {
      HeadWindow best = q.at(l, k * G);
      for (int64_t g = 1; g < G; ++g) {
        const HeadWindow& hw = q.at(l, k * G + g);
        const bool more = demand(hw.window) > demand(best.window);
        const bool less = demand(hw.window) < demand(best.window);
        if (rule == GroupRule::Max) {
          if (more) best.window = hw.window;
          best.sink = std::max(best.sink, hw.sink);
        } else {
          if (less) best.window = hw.window;
          best.sink = std::min(best.sink, hw.sink);
        }
      }
      v.at(l, k) = best;
    }
  return v;
}

Visibility expand_to_query_heads(const Visibility& kv, int64_t heads) {
  require(kv.heads() > 0 && heads % kv.heads() == 0,
          "cannot expand " + std::to_string(kv.heads()) + " KV heads to " + std::to_string(heads) +
              " query heads");
  const int64_t G = heads / kv.heads();
  Visibility v(kv.layers(), heads);
  for (int64_t l = 0; l < kv.layers(); ++l)
    for (int64_t h = 0; h < heads; ++h) v.at(l, h) = kv.at(l, h / G);
  return v;
}

int64_t disagreeing_groups(const Visibility& q, int64_t kv_heads) {
  const int64_t G = q.heads() / kv_heads;
  int64_t n = 0;
  for (int64_t l = 0; l < q.layers(); ++l)
    for (int64_t k = 0; k < kv_heads; ++k)
      for (int64_t g = 1; g < G; ++g) {
        const HeadWindow &a = q.at(l, k * G), &b = q.at(l, k * G + g);
        if (a.sink != b.sink || a.window != b.window) {
          ++n;
          break;
        }
      }
  return n;
}

}  // namespace headscope
