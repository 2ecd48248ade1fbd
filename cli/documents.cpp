#include "cli/documents.h"

#include <cmath>
#include <cstdio>

#include "common/error.h"
#include "dataset/documents.h"
#include "model/tokenizer.h"

namespace headscope::cli {

void add_document_options(CLI::App* app, DocumentOptions& o) {
  app->add_option("--dataset", o.dataset,
                  "documents: a directory of .txt files, a .jsonl file (one document a line), or "
                  "a text file (one document, or pieces with --split-on)");
  app->add_option("--field", o.field, ".jsonl: the string field holding the text")
      ->capture_default_str();
  app->add_option("--split-on", o.split_on,
                  "--dataset FILE: split it into documents on this literal separator (\\n = newline)");
  app->add_option("--max-docs", o.max_docs, "use the first N documents (0 = all)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app->add_option("--bootstrap", o.resamples, "bootstrap resamples over documents for the 95% intervals")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app->add_option("--bootstrap-seed", o.seed, "bootstrap seed")->capture_default_str();
}

std::vector<TokenizedDocument> load_document_tokens(const std::string& model_dir,
                                                    const TextOptions& t, const DocumentOptions& d) {
  DocumentSource src;
  src.texts = t.texts;
  if (src.texts.empty() && !t.text.empty()) src.texts.push_back(t.text);
  src.dataset = d.dataset;
  src.field = d.field;
  src.split_on = d.split_on;
  src.max_docs = d.max_docs;
  src.newlines = parse_newlines(t.newlines);
  std::vector<Document> docs = load_documents(src);
  Tokenizer tok = Tokenizer::load(model_dir);
  return tokenize_documents(
      docs, [&](const std::string& s) { return tok.encode(s); }, t.max_tokens, /*bos=*/-1);
}

bool multi_document(const TextOptions&, const DocumentOptions& d,
                    const std::vector<TokenizedDocument>& docs) {
  return docs.size() > 1 || !d.dataset.empty();
}

BootstrapOptions bootstrap_options(const DocumentOptions& d) {
  BootstrapOptions b;
  b.resamples = d.resamples;
  b.seed = d.seed;
  return b;
}

DocScore doc_score(const std::string& name, const EvalResult& r) {
  const int64_t n = static_cast<int64_t>(r.nll.size());
  return make_doc_score(name, r.nll, static_cast<int64_t>(std::llround(r.accuracy * double(n))));
}

void print_documents_header(const std::vector<TokenizedDocument>& docs, const TextOptions& t) {
  int64_t used = 0, total = 0;
  for (const auto& d : docs) used += d.ids.size(), total += d.total_tokens;
  std::printf("documents  %zu (%lld of %lld tokens, max %lld per document, newlines=%s)\n",
              docs.size(), (long long)used, (long long)total, (long long)t.max_tokens,
              t.newlines.c_str());
}

std::string format_interval(const Interval& iv, const char* fmt) {
  if (!iv.valid) return "(no interval: 1 document)";
  char a[64], b[64];
  std::snprintf(a, sizeof a, fmt, iv.lo);
  std::snprintf(b, sizeof b, fmt, iv.hi);
  return std::string("[") + a + ", " + b + "]";
}

void print_document_table(const std::string& title, const std::vector<DocScore>& docs,
                          const PooledScore& p) {
  std::printf("\n%s\n%-44s %8s %10s %8s\n", title.c_str(), "document", "scored", "PPL", "acc");
  for (const auto& d : docs) {
    std::string n = d.name.size() > 44 ? "..." + d.name.substr(d.name.size() - 41) : d.name;
    std::printf("%-44s %8lld %10.4f %7.2f%%\n", n.c_str(), (long long)d.predictions, d.ppl(),
                100.0 * d.accuracy());
  }
  std::printf("%-44s %8lld %10.4f %7.2f%%\n", "pooled (token-weighted)", (long long)p.predictions,
              p.ppl, 100.0 * p.accuracy);
  std::printf("95%% interval over %lld documents: PPL %s, accuracy %s\n", (long long)p.documents,
              format_interval(p.ppl_ci, "%.4f").c_str(), format_interval(p.accuracy_ci, "%.4f").c_str());
}

void print_paired(const std::string& label, const PairedDifference& d) {
  std::printf("%s vs %s: dPPL %+.4f (%+.2f%%) 95%% %s, dacc %+.4f 95%% %s, worse on %lld document(s)\n",
              label.c_str(), d.against.c_str(), d.delta_ppl, d.delta_pct,
              format_interval(d.delta_ppl_ci, "%+.4f").c_str(), d.delta_accuracy,
              format_interval(d.delta_accuracy_ci, "%+.4f").c_str(), (long long)d.documents_worse);
}

}  // namespace headscope::cli
