// headscope ablate over several documents (--text repeated, --dataset) or with strided windows
// (--context/--stride): every configuration and the dense baseline on every document, pooled
// with intervals and paired differences (sweep/sweep_merge.h), printed and written to --out as
// one ablation results file (schema headscope.ablation/1 plus per-document fields). Unlike the
// single-text path this does not resume; for long grids use `headscope sweep`.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "analyzer/head_classification.h"
#include "dataset/document_stats.h"
#include "dataset/document_tokens.h"
#include "headaware/ablation_config.h"
#include "model/model.h"

namespace headscope::cli {

struct AblateDocumentsOptions {
  std::string model_path, classifications, out;
  int64_t context = 0, stride = 0, max_tokens = 0;
  BootstrapOptions bootstrap;
  nlohmann::json provenance;  // common/provenance.h block written into --out (null: none)
};

void ablate_documents(const Model& model, const std::vector<TokenizedDocument>& docs,
                      const AblationPlan& plan, const ClassificationFile* cls,
                      const AblateDocumentsOptions& o);

}  // namespace headscope::cli
