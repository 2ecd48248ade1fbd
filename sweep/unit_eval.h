// One evaluation unit of an ablation over documents: the dense baseline or one ablation
// configuration (its per-head visibility, the mask engine) on one tokenized document, with the
// whole document in one parallel forward pass or strided windows (eval/strided_eval.h).
// Used by `headscope sweep run` and by `headscope ablate` over several documents.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "analyzer/head_classification.h"
#include "eval/metrics.h"
#include "headaware/ablation_config.h"
#include "model/model.h"

namespace headscope {

struct UnitEvalOptions {
  int64_t context = 0, stride = 0;  // 0: one forward over the document
  int64_t query_block = 0;          // 0: auto (headaware/ablation_runner.h)
  // One forward: progress in query blocks over all layers (done, total); may be empty.
  std::function<void(int64_t done, int64_t total)> progress;
};

// cfg null: dense. Returns the EvalResult with extra["measured_context"]: the mean number of
// keys each scored query saw (over heads).
EvalResult evaluate_unit(const Model& model, const std::vector<int64_t>& ids,
                         const AblationConfig* cfg, const ClassificationFile* cls,
                         const UnitEvalOptions& opt);

}  // namespace headscope
