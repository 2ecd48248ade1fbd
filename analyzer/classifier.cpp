#include "analyzer/classifier.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/error.h"

namespace headscope {

void Thresholds::validate() const {
  auto finite = [](double v) { return std::isfinite(v); };
  require(finite(low_entropy) && finite(high_entropy) && finite(dead_uniformity) &&
              finite(high_local) && finite(high_sink),
          "analysis thresholds must be finite numbers");
  require(low_entropy > 0, "threshold low_entropy must be > 0 (got " + std::to_string(low_entropy) + ")");
  require(low_entropy < high_entropy, "threshold low_entropy (" + std::to_string(low_entropy) +
                                          ") must be below high_entropy (" +
                                          std::to_string(high_entropy) + ")");
  require(dead_uniformity >= 0, "threshold dead_uniformity must be >= 0 (got " +
                                    std::to_string(dead_uniformity) + ")");
  require(high_local > 0 && high_local <= 1,
          "threshold high_local must lie in (0, 1] (got " + std::to_string(high_local) + ")");
  require(high_sink >= 0 && high_sink <= 1,
          "threshold high_sink must lie in [0, 1] (got " + std::to_string(high_sink) + ")");
}

HeadClassification classify_head(int64_t layer, int64_t head, const ClassifierInput& in,
                                 const Thresholds& t) {
  HeadClassification c;  // defaults: mixed, confidence 0.5, full cache, strategy none
  c.layer = layer;
  c.head = head;
  c.sink_size = in.sink_size;
  const double e = in.mean_entropy, s = in.sink_ratio, loc = in.local, u = in.uniformity;
  const double LE = t.low_entropy, HE = t.high_entropy;
  if (u < t.dead_uniformity) {
    c.type = "dead";
    c.confidence = 1.0 - u / t.dead_uniformity;
    c.can_prune = true;
    c.use_full_cache = false;
    c.strategy = "prune";
  } else if (e < LE) {
    if (s > t.high_sink) {
      c.type = "sink_positional";
      c.confidence = s;
      c.can_limit_window = true;
      c.keep_sinks = true;
      c.recommended_window = 8;
      c.use_full_cache = false;
      c.strategy = "sink_window";
    } else if (loc > t.high_local) {
      c.type = "true_positional";
      c.confidence = std::min(1.0, (1.0 - e / LE) * (loc / t.high_local));
      c.can_limit_window = true;
      c.use_full_cache = false;
      c.strategy = "window_only";
      // Window covering 80% of the attention mass over the first 16 distances, plus a buffer.
      double cum = 0;
      const int64_t n = std::min<int64_t>(16, in.rel_len);
      for (int64_t i = 0; i < n; ++i) {
        cum += in.relative_position_dist[i];
        if (cum > 0.8) {
          c.recommended_window = std::max<int64_t>(8, i + 4);
          break;
        }
      }
      if (c.recommended_window == -1) c.recommended_window = 16;
    }
    // else: low entropy but neither sink- nor local-focused: mixed (defaults).
  } else if (e < HE && s > t.high_sink) {
    c.type = "sink_mixed";
    const double ratio = (e - LE) / (HE - LE);
    c.confidence = std::min(1.0, std::max(0.0, s * (1.0 - ratio)));
    c.can_limit_window = true;
    c.keep_sinks = true;
    c.recommended_window = static_cast<int64_t>(16 + ratio * 16);
    c.use_full_cache = false;
    c.strategy = "sink_window";
  } else if (e > HE) {
    c.type = "gathering";
    c.confidence = std::min(1.0, (e - HE) / 2.0);
    c.use_full_cache = true;
    c.strategy = "full";
  }
  return c;
}

}  // namespace headscope
