// Head-aware policies under GQA. A real KV cache can only evict per KV head: every query head
// of a group sees the same cached keys. Policy builders (policy_builders.h) give one
// (sink, window) per *query* head, from its classification; this turns them into one entry per
// (layer, KV head) by an explicit, configurable rule over the group's query-head entries:
//   max (default)  the most demanding head decides: the largest window (full context beats
//                  every finite window, a dead head — window 0 — loses to any live one) and
//                  the largest sink;
//   min            the least demanding head decides: the smallest window (dead < finite <
//                  full) and the smallest sink.
// For multi-head models (one query head per KV head) both rules return the input unchanged.
#pragma once
#include <cstdint>
#include <string>

#include "model/visibility.h"

namespace headscope {

enum class GroupRule { Max, Min };
GroupRule parse_group_rule(const std::string& s);  // "max" | "min"; throws Error
const char* to_string(GroupRule r);

// per_query: [layers, query heads]; query head h belongs to KV head h / (heads / kv_heads).
Visibility kv_head_policy(const Visibility& per_query, int64_t kv_heads, GroupRule rule = GroupRule::Max);

// Each query head inherits its KV head's entry: [layers, kv heads] -> [layers, heads].
Visibility expand_to_query_heads(const Visibility& per_kv, int64_t heads);

// How far a group's query heads disagree: the number of (layer, KV head) groups whose query
// heads do not all have the same (sink, window).
int64_t disagreeing_groups(const Visibility& per_query, int64_t kv_heads);

}  // namespace headscope
