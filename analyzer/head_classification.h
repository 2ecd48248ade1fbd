// One head's classification, as in the Python original's head_classifications.json
// ("classifications" list). Older files (e.g. the published pythia-2.8b file) carry only the
// first seven fields and the legacy type "positional"; missing fields take these defaults.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace headscope {

struct HeadClassification {
  int64_t layer = 0;
  int64_t head = 0;
  std::string type = "mixed";  // dead, sink_positional, true_positional, positional (legacy),
                               // mixed, sink_mixed, gathering
  double confidence = 0.5;
  bool can_prune = false;
  bool can_limit_window = false;
  int64_t recommended_window = -1;
  bool keep_sinks = false;
  int64_t sink_size = 4;
  bool use_full_cache = true;
  std::string strategy = "none";  // none, prune, window_only, sink_window, full
  double stability = -1;          // headscope extension; -1 = absent
  int64_t kv_head = -1;           // GQA models: the KV head this query head reads; -1 = absent
};

struct ClassificationFile {
  std::vector<HeadClassification> heads;  // sorted by (layer, head)
  int64_t num_layers = 0, num_heads = 0;  // derived: max index + 1
  bool legacy_schema = false;  // true when some entry lacked the newer fields (keep_sinks,
                               // sink_size, use_full_cache, compression_strategy)
  const HeadClassification& at(int64_t layer, int64_t head) const {
    return heads[static_cast<size_t>(layer * num_heads + head)];
  }
};

// Reads a head_classifications.json (either schema version). Throws Error on malformed JSON,
// missing fields, duplicate or missing (layer, head) entries.
ClassificationFile read_classifications(const std::string& path);
// Throws Error unless the file's layer/head counts equal the model's.
void check_classifications_match(const ClassificationFile& f, int64_t layers, int64_t heads,
                                 const std::string& path);

}  // namespace headscope
