#include "analyzer/kv_groups.h"

#include <algorithm>
#include <set>

#include "common/error.h"

namespace headscope {

std::vector<KvGroup> kv_group_aggregates(const std::vector<HeadStatistics>& stats,
                                         const std::vector<HeadClassification>& classes,
                                         int64_t layers, int64_t heads, int64_t kv_heads,
                                         int64_t sink_size, const Thresholds& t) {
  require(kv_heads > 0 && heads % kv_heads == 0, "KV heads must divide the query heads");
  require(stats.size() == size_t(layers * heads) && classes.size() == stats.size(),
          "internal: per-head statistics are incomplete");
  const int64_t G = heads / kv_heads;
  std::vector<KvGroup> out;
  for (int64_t l = 0; l < layers; ++l)
    for (int64_t k = 0; k < kv_heads; ++k) {
      KvGroup g;
      g.layer = l;
      g.kv_head = k;
      HeadStatistics& m = g.stats;
      m.layer = l;
      m.head = k;
      const size_t D = stats[size_t(l * heads)].relative_position_dist.size();
      m.relative_position_dist.assign(D, 0.0);
      double emin = 1e300, emax = -1e300, smin = 1e300, smax = -1e300;
      std::set<std::string> types;
      for (int64_t j = 0; j < G; ++j) {
        const int64_t h = k * G + j;
        g.query_heads.push_back(h);
        const HeadStatistics& s = stats[size_t(l * heads + h)];
        m.mean_entropy += s.mean_entropy / double(G);
        m.std_entropy += s.std_entropy / double(G);
        m.max_attention_mean += s.max_attention_mean / double(G);
        m.sink += s.sink / double(G);
        m.recent += s.recent / double(G);
        m.local += s.local / double(G);
        m.global += s.global / double(G);
        m.uniformity += s.uniformity / double(G);
        for (size_t d = 0; d < D; ++d) m.relative_position_dist[d] += s.relative_position_dist[d] / double(G);
        emin = std::min(emin, s.mean_entropy);
        emax = std::max(emax, s.mean_entropy);
        smin = std::min(smin, s.sink);
        smax = std::max(smax, s.sink);
        types.insert(classes[size_t(l * heads + h)].type);
      }
      ClassifierInput in;
      in.mean_entropy = m.mean_entropy;
      in.sink_ratio = m.sink;
      in.local = m.local;
      in.uniformity = m.uniformity;
      in.relative_position_dist = m.relative_position_dist.data();
      in.rel_len = int64_t(D);
      in.sink_size = sink_size;
      g.cls = classify_head(l, k, in, t);
      int64_t agree = 0;
      for (int64_t h : g.query_heads) agree += classes[size_t(l * heads + h)].type == g.cls.type;
      g.distinct_types = int64_t(types.size());
      g.type_agreement = double(agree) / double(G);
      g.entropy_spread = emax - emin;
      g.sink_spread = smax - smin;
      out.push_back(std::move(g));
    }
  return out;
}

}  // namespace headscope
