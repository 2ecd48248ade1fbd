// Options every model-running command shares (--model, --device, --dtype, --threads) and the
// text options (--text, --max-tokens, --newlines), with their loading helpers.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "common/provenance.h"
#include "common/text.h"
#include "model/model.h"
#include "model/tokenizer.h"

namespace headscope::cli {

struct RuntimeOptions {
  std::string model;
  std::string device = "cpu";
  std::string dtype = "f32";
  int threads = 0;  // 0 = $OMP_NUM_THREADS, else the CPUs of the affinity mask; more is an error
};

struct TextOptions {
  std::string text;                // the (first) --text
  std::vector<std::string> texts;  // every --text, when registered with multiple = true
  int64_t max_tokens = 0;  // 0 = whole text
  std::string newlines = "lf";
  bool no_special = false;  // --no-special: no BOS/EOS from the tokenizer's post-processor
};

// A tokenised text and what was done to it.
struct TokenLoad {
  std::vector<int64_t> ids;
  bool bos_added = false;
  std::vector<int64_t> special_prefix, special_suffix;  // special ids actually added
  std::string special_description;  // e.g. "BOS <s> (id 1) from TemplateProcessing added"
  bool whole_text = true;           // false: --max-tokens stopped reading early
  int64_t bytes_encoded = 0;
  int64_t chars = 0;                // code points (whole_text only)
  std::string text;                 // the loaded text (whole_text only)
};

void add_runtime_options(CLI::App* app, RuntimeOptions& o, bool model_required = true);
// multiple: --text may repeat (one document each) and is optional (the command then reads
// documents with cli/documents.h, which also accepts --dataset); `text` holds the first.
void add_text_options(CLI::App* app, TextOptions& o, int64_t default_max_tokens,
                      bool multiple = false);

// Sets the intra-op thread count and loads the model; prints nothing.
Model load_model(const RuntimeOptions& o);
// Tokenizes the text file with `tok`, adding its special tokens unless --no-special. With
// --max-tokens N the file is read in pieces and only as far as N tokens need (the ids equal the
// whole text's ids truncated to N); otherwise it is read whole. Throws Error on an empty text or
// fewer than min_tokens tokens.
TokenLoad load_tokens_with(const Tokenizer& tok, const TextOptions& o, int64_t min_tokens);
// Same with the model directory's tokenizer.json; prints one line saying which special tokens
// (BOS) were added. total_tokens receives the number of tokens encoded (the whole text's count
// unless --max-tokens stopped early, when it equals the ids' count). At least 2 tokens needed.
std::vector<int64_t> load_tokens(const std::string& model_dir, const TextOptions& o,
                                 int64_t* total_tokens = nullptr);
std::string describe_device(const RuntimeOptions& o);

// Provenance (common/provenance.h) of a model-running command: the model as given, its
// architecture, device, dtype and threads; the caller adds texts and options.
Provenance runtime_provenance(const std::string& command, const RuntimeOptions& o, const Model& model);
// Whether the model's tokenizer adds a BOS with these text options (1) or not (0).
int bos_added(const std::string& model_dir, const TextOptions& o);

}  // namespace headscope::cli
