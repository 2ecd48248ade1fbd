// Options every model-running command shares (--model, --device, --dtype, --threads) and the
// text options (--text, --max-tokens, --newlines), with their loading helpers.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "common/text.h"
#include "model/model.h"

namespace headscope::cli {

struct RuntimeOptions {
  std::string model;
  std::string device = "cpu";
  std::string dtype = "f32";
  int threads = 0;  // 0 = all cores
};

struct TextOptions {
  std::string text;                // the (first) --text
  std::vector<std::string> texts;  // every --text, when registered with multiple = true
  int64_t max_tokens = 0;  // 0 = whole text
  std::string newlines = "lf";
};

void add_runtime_options(CLI::App* app, RuntimeOptions& o, bool model_required = true);
// multiple: --text may repeat (one document each) and is optional (the command then reads
// documents with cli/documents.h, which also accepts --dataset); `text` holds the first.
void add_text_options(CLI::App* app, TextOptions& o, int64_t default_max_tokens,
                      bool multiple = false);

// Sets the intra-op thread count and loads the model; prints nothing.
Model load_model(const RuntimeOptions& o);
// Loads, validates and tokenizes the text with the model directory's tokenizer.json, then
// truncates to max_tokens. Throws Error on empty text or fewer than 2 tokens.
std::vector<int64_t> load_tokens(const std::string& model_dir, const TextOptions& o,
                                 int64_t* total_tokens = nullptr);
std::string describe_device(const RuntimeOptions& o);

}  // namespace headscope::cli
