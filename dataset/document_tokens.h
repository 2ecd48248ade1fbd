// Per-document tokenization: every document is encoded on its own (no token crosses a document
// boundary), prefixed with the tokenizer's BOS id where the tokenizer adds one (GPT-NeoX /
// Pythia tokenizers add none; bos < 0 means none), then cut to max_tokens (0 = whole document).
// A document left with fewer than 2 tokens cannot be scored: Error naming it.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dataset/documents.h"

namespace headscope {

struct TokenizedDocument {
  std::string name;
  std::vector<int64_t> ids;  // what is evaluated (BOS first when added)
  int64_t total_tokens = 0;  // the document's full length in tokens (BOS included), before the cut
};

using EncodeFn = std::function<std::vector<int64_t>(const std::string&)>;

std::vector<TokenizedDocument> tokenize_documents(const std::vector<Document>& docs,
                                                  const EncodeFn& encode, int64_t max_tokens,
                                                  int64_t bos = -1);

// Sum of ids.size() - 1 over the documents: the number of next-token predictions.
int64_t total_predictions(const std::vector<TokenizedDocument>& docs);

}  // namespace headscope
