#include "analyzer/document_analysis.h"

#include "common/error.h"

namespace headscope {

DocumentAnalysis pool_document_analyses(std::vector<AnalysisResult> per_doc,
                                        const std::vector<std::string>& names) {
  require(!per_doc.empty() && per_doc.size() == names.size(), "no document analyses to pool");
  DocumentAnalysis da;
  da.names = names;
  AnalysisResult& p = da.pooled;
  p.layers = per_doc[0].layers;
  p.heads = per_doc[0].heads;
  p.options = per_doc[0].options;
  for (auto& r : per_doc) {
    require(r.layers == p.layers && r.heads == p.heads, "document analyses of different models");
    const int64_t offset = p.tokens;
    for (auto& c : r.chunks) {
      c.begin += offset;  // positions in the concatenation of the documents
      p.chunks.push_back(std::move(c));
    }
    p.tokens += r.tokens;
    p.seconds += r.seconds;
    std::vector<std::string> t;
    for (const auto& hc : r.classes) t.push_back(hc.type);
    da.types.push_back(std::move(t));
  }
  finalize_analysis(p);
  const size_t n = p.classes.size();
  da.document_stability.assign(n, 0.0);
  for (size_t h = 0; h < n; ++h) {
    int64_t agree = 0;
    for (const auto& t : da.types) agree += t[h] == p.classes[h].type;
    da.document_stability[h] = double(agree) / double(da.types.size());
  }
  return da;
}

}  // namespace headscope
