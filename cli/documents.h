// Document options shared by eval, ablate and analyze (--text repeatable, --dataset, --field,
// --split-on, --max-docs; --max-tokens applies per document) and the per-document / pooled
// report (tables and JSON). The logic lives in dataset/; this is the CLI glue.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "cli/runtime.h"
#include "dataset/document_stats.h"
#include "dataset/document_tokens.h"
#include "eval/metrics.h"

namespace headscope::cli {

struct DocumentOptions {
  std::string dataset, field = "text", split_on;
  int64_t max_docs = 0;
  int64_t resamples = 1000;
  uint64_t seed = 0;
};

// Registers --dataset, --field, --split-on, --max-docs, --bootstrap, --bootstrap-seed.
// The command must have registered --text with add_text_options(..., multiple = true).
void add_document_options(CLI::App* app, DocumentOptions& o);

// Reads and tokenizes every document with the model directory's tokenizer (per document,
// --max-tokens per document). Throws Error (one line) on bad input.
std::vector<TokenizedDocument> load_document_tokens(const std::string& model_dir,
                                                    const TextOptions& t, const DocumentOptions& d);

// True when the run is over more than one document or from --dataset (the per-document report).
bool multi_document(const TextOptions& t, const DocumentOptions& d,
                    const std::vector<TokenizedDocument>& docs);

BootstrapOptions bootstrap_options(const DocumentOptions& d);

DocScore doc_score(const std::string& name, const EvalResult& r);

// "text  N document(s), T tokens evaluated (of U), P predictions" line(s) for the header.
void print_documents_header(const std::vector<TokenizedDocument>& docs, const TextOptions& t);

// Per-document table (document, tokens, PPL, accuracy) for one method, then the pooled line.
void print_document_table(const std::string& title, const std::vector<DocScore>& docs,
                          const PooledScore& p);
std::string format_interval(const Interval& iv, const char* fmt);
void print_paired(const std::string& label, const PairedDifference& d);

}  // namespace headscope::cli
