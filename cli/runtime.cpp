#include "cli/runtime.h"

#include <ATen/Parallel.h>
#include <ATen/Context.h>

#include <cstdio>

#include "common/blas_info.h"
#include "common/cpu_runtime.h"
#include "common/error.h"
#include "model/tokenizer.h"

namespace headscope::cli {

void add_runtime_options(CLI::App* app, RuntimeOptions& o, bool model_required) {
  auto* m = app->add_option("--model", o.model, "Hugging Face model directory (GPT-NeoX, Llama, Mistral, Qwen2, Qwen3)");
  if (model_required) m->required();
  app->add_option("--device", o.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  app->add_option("--dtype", o.dtype, "f32, bf16 or f16 (bf16/f16 on cuda only)")
      ->check(CLI::IsMember({"f32", "bf16", "f16"}))->capture_default_str();
  app->add_option("--threads", o.threads, "intra-op CPU threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
}

void add_text_options(CLI::App* app, TextOptions& o, int64_t default_max_tokens) {
  o.max_tokens = default_max_tokens;
  app->add_option("--text", o.text, "UTF-8 text file")->required();
  app->add_option("--max-tokens", o.max_tokens, "use the first N tokens (0 = all)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app->add_option("--newlines", o.newlines, "keep: text as is; lf: CRLF/CR -> LF")
      ->check(CLI::IsMember({"keep", "lf"}))->capture_default_str();
}

Model load_model(const RuntimeOptions& o) {
  configure_cpu_runtime(o.threads);
  at::ScalarType dt = o.dtype == "bf16" ? at::kBFloat16 : o.dtype == "f16" ? at::kHalf : at::kFloat;
  at::Device dev = at::kCPU;
  if (o.device == "cuda") {
    require(at::hasCUDA(), "--device cuda: this build of libtorch has no CUDA support or no GPU is visible");
    dev = at::Device(at::kCUDA, 0);
  } else {
    require(dt == at::kFloat, "--dtype " + o.dtype + " is only supported with --device cuda");
    if (!blas_is_optimised())
      std::fprintf(stderr, "headscope: warning: slow BLAS, %s\n", blas_description().c_str());
  }
  return Model::load(o.model, dev, dt);
}

std::vector<int64_t> load_tokens(const std::string& model_dir, const TextOptions& o,
                                 int64_t* total_tokens) {
  std::string text = load_text(o.text, parse_newlines(o.newlines));
  Tokenizer tok = Tokenizer::load(model_dir);
  // Where the model and the tokenizer meet: an id the embedding has no row for is an error
  // now, not an out-of-range index later.
  const int64_t vocab = ModelConfig::load(model_dir).vocab_size;
  if (tok.vocab_size() > vocab) {
    const int64_t id = tok.vocab_size() - 1;
    throw Error("tokenizer token " + std::to_string(id) + " ('" + tok.decode({id}) +
                "') is beyond the model's vocab_size " + std::to_string(vocab));
  }
  std::vector<int64_t> ids = tok.encode(text);
  if (total_tokens) *total_tokens = static_cast<int64_t>(ids.size());
  if (o.max_tokens > 0 && static_cast<int64_t>(ids.size()) > o.max_tokens) ids.resize(o.max_tokens);
  require(ids.size() >= 2, "text " + o.text + " has " + std::to_string(ids.size()) +
                               " token(s); at least 2 are needed");
  return ids;
}

std::string describe_device(const RuntimeOptions& o) {
  std::string s = o.device + "/" + o.dtype;
  if (o.device == "cpu") s += ", " + std::to_string(at::get_num_threads()) + " threads";
  return s;
}

}  // namespace headscope::cli
