// Per-KV-head aggregates of an analysis under GQA. The per-query-head statistics and
// classifications stay exactly the Python original's (files remain comparable with it); each
// group of query heads sharing one KV head additionally gets:
//  - group statistics: the mean over its query heads of every per-head statistic;
//  - group type and confidence: the classifier applied to those mean statistics;
//  - disagreement: how many distinct types its query heads have, the share of them whose own
//    type equals the group type, and the spread (max - min) of their mean entropies and sink
//    ratios.
// A real KV cache can only act per KV head, so these are the numbers a KV-head policy sees.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "analyzer/classifier.h"
#include "analyzer/head_classification.h"
#include "analyzer/head_statistics.h"

namespace headscope {

struct KvGroup {
  int64_t layer = 0, kv_head = 0;
  std::vector<int64_t> query_heads;
  HeadStatistics stats;      // means over the query heads (layer, head = kv_head)
  HeadClassification cls;    // of the mean statistics
  int64_t distinct_types = 0;
  double type_agreement = 0;  // share of query heads whose type == cls.type
  double entropy_spread = 0, sink_spread = 0;
};

// stats/classes: per query head, sorted by (layer, head), heads per layer = H; H % kv_heads == 0.
std::vector<KvGroup> kv_group_aggregates(const std::vector<HeadStatistics>& stats,
                                         const std::vector<HeadClassification>& classes,
                                         int64_t layers, int64_t heads, int64_t kv_heads,
                                         int64_t sink_size, const Thresholds& t);

}  // namespace headscope
