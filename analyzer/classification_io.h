// head_classifications.json in the Python original's schema: a "classifications" list (one
// object per head, fields in the original's order) and a "summary" block. headscope adds a
// per-head "stability" field; the original's readers ignore it. read_classifications /
// check_classifications_match (declared in head_classification.h) live in classification_io.cpp.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "analyzer/head_classification.h"
#include "analyzer/kv_groups.h"

namespace headscope {

// The original's HeadType values in its enum order (the order of the summary's
// type_distribution): positional, gathering, dead, mixed, sink_positional, true_positional,
// sink_mixed.
const std::vector<std::string>& head_type_names();
// The original's compression strategies in summary order: none, prune, window_only,
// sink_window, full.
const std::vector<std::string>& strategy_names();
bool is_head_type(const std::string& s);
bool is_strategy(const std::string& s);

// One entry in the original's field order (+ "stability" when >= 0).
nlohmann::ordered_json classification_to_json(const HeadClassification& c);
// The original's summary block: counts and percentages of every type and strategy, prunable,
// limitable and sink heads.
nlohmann::ordered_json classification_summary(const std::vector<HeadClassification>& heads);
// One GQA group (analyzer/kv_groups.h) as a "kv_groups" entry.
nlohmann::ordered_json kv_group_to_json(const KvGroup& g);
// The whole file as text (indent 2, like the original's json.dump). GQA models add each head's
// "kv_head" (in its entry) and a top-level "kv_groups" list; without groups the file is the
// original's schema exactly.
std::string classifications_json(const std::vector<HeadClassification>& heads,
                                 const std::vector<KvGroup>& groups = {});
// Writes it atomically.
void write_classifications(const std::string& path, const std::vector<HeadClassification>& heads,
                           const std::vector<KvGroup>& groups = {});
// Parses the text of a classification file (`what` names it in error messages).
ClassificationFile parse_classifications(const std::string& text, const std::string& what);

}  // namespace headscope
