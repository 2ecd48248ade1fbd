#include "dataset/document_tokens.h"

#include "common/error.h"

namespace headscope {

std::vector<TokenizedDocument> tokenize_documents(const std::vector<Document>& docs,
                                                  const EncodeFn& encode, int64_t max_tokens,
                                                  int64_t bos) {
  require(max_tokens >= 0, "--max-tokens must be >= 0");
  std::vector<TokenizedDocument> out;
  out.reserve(docs.size());
  for (const auto& d : docs) {
    TokenizedDocument t;
    t.name = d.name;
    if (bos >= 0) t.ids.push_back(bos);
    std::vector<int64_t> enc = encode(d.text);
    t.ids.insert(t.ids.end(), enc.begin(), enc.end());
    t.total_tokens = static_cast<int64_t>(t.ids.size());
    if (max_tokens > 0 && static_cast<int64_t>(t.ids.size()) > max_tokens) t.ids.resize(max_tokens);
    if (t.ids.size() < 2)
      throw Error("document " + d.name + " is too short to score: " + std::to_string(t.ids.size()) +
                  " token(s), at least 2 are needed");
    out.push_back(std::move(t));
  }
  return out;
}

int64_t total_predictions(const std::vector<TokenizedDocument>& docs) {
  int64_t n = 0;
  for (const auto& d : docs) n += static_cast<int64_t>(d.ids.size()) - 1;
  return n;
}

}  // namespace headscope
