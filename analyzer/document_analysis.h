// Head analysis over several documents: every document is analysed on its own (chunks never
// cross a document boundary), then the statistics and classifications are formed from all
// documents' chunks together (each chunk weighs the same, as within one text), and each head
// gets a per-document stability: the share of documents whose own classification (from that
// document's chunks alone) agrees with the pooled type.
#pragma once
#include <string>
#include <vector>

#include "analyzer/analyzer.h"

namespace headscope {

struct DocumentAnalysis {
  AnalysisResult pooled;                       // chunks of every document, in order
  std::vector<std::string> names;              // documents
  std::vector<std::vector<std::string>> types; // [document][head] the document's own type
  std::vector<double> document_stability;      // [head] share of documents agreeing
};

// `per_doc[d]` is analyze_heads on document d. Throws Error if they disagree in shape.
DocumentAnalysis pool_document_analyses(std::vector<AnalysisResult> per_doc,
                                        const std::vector<std::string>& names);

}  // namespace headscope
