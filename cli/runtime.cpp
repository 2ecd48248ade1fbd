#include "cli/runtime.h"

#include <ATen/Parallel.h>
#include <ATen/Context.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/blas_info.h"
#include "common/cpu_runtime.h"
#include "common/error.h"
#include "model/tokenizer.h"

namespace headscope::cli {

void add_runtime_options(CLI::App* app, RuntimeOptions& o, bool model_required) {
  auto* m = app->add_option("--model", o.model, "Hugging Face model directory (GPT-NeoX, Llama, Mistral, Qwen2, Qwen3)");
  if (model_required) m->required();
  app->add_option("--device", o.device, "cpu, cuda, or auto (cuda if a GPU is visible, else cpu)")
      ->capture_default_str()
      ->transform([](std::string s) {
        if (s == "auto") return std::string(at::hasCUDA() ? "cuda" : "cpu");
        if (s != "cpu" && s != "cuda")
          throw CLI::ValidationError("'" + s + "' is not one of cpu, cuda, auto");
        return s;
      }, "", "DEVICE");
  app->add_option("--dtype", o.dtype, "f32, bf16 or f16 (bf16/f16 on cuda only)")
      ->check(CLI::IsMember({"f32", "bf16", "f16"}))->capture_default_str();
  app->add_option("--threads", o.threads,
                  "intra-op CPU threads, at most the CPUs in the process's affinity mask (0 = "
                  "$OMP_NUM_THREADS if set, else all CPUs of the mask)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
}

void add_text_options(CLI::App* app, TextOptions& o, int64_t default_max_tokens, bool multiple) {
  o.max_tokens = default_max_tokens;
  if (multiple)
    app->add_option("--text", o.texts, "UTF-8 text file (repeatable: one document each)")
        ->each([&o](const std::string& v) { if (o.text.empty()) o.text = v; });
  else
    app->add_option("--text", o.text, "UTF-8 text file")->required();
  app->add_option("--max-tokens", o.max_tokens,
                  multiple ? "use the first N tokens of each document (0 = all)"
                           : "use the first N tokens (0 = all)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app->add_option("--newlines", o.newlines, "keep: text as is; lf: CRLF/CR -> LF")
      ->check(CLI::IsMember({"keep", "lf"}))->capture_default_str();
  app->add_flag("--no-special", o.no_special, "do not add the tokenizer's special tokens (BOS/EOS)");
}

Model load_model(const RuntimeOptions& o) {
  configure_cpu_runtime(checked_thread_count(o.threads));
  at::ScalarType dt = o.dtype == "bf16" ? at::kBFloat16 : o.dtype == "f16" ? at::kHalf : at::kFloat;
  at::Device dev = at::kCPU;
  if (o.device == "cuda") {
    require(at::hasCUDA(), "--device cuda: this build of libtorch has no CUDA support or no GPU is visible");
    dev = at::Device(at::kCUDA, 0);
  } else {
    usage_require(dt == at::kFloat, "--dtype " + o.dtype + " is only supported with --device cuda");
    if (!blas_is_optimised())
      std::fprintf(stderr, "headscope: warning: slow BLAS, %s\n", blas_description().c_str());
  }
  return Model::load(o.model, dev, dt);
}

namespace {
// Reads a text file in blocks for Tokenizer::encode_prefix, applying the newline convention
// (a CR at a block's end waits for the next block, which may start with its LF).
class BlockReader {
 public:
  BlockReader(const std::string& path, Newlines nl) : path_(path), nl_(nl), in_(path, std::ios::binary) {
    require(in_.good(), "cannot read " + path);
  }
  bool next(std::string& out) {
    std::string block(1 << 16, '\0');
    in_.read(&block[0], static_cast<std::streamsize>(block.size()));
    block.resize(static_cast<size_t>(in_.gcount()));
    require(!in_.bad(), "cannot read " + path_);
    const bool eof = block.empty();
    total_ += block.size();
    if (nl_ == Newlines::Keep) { out += block; return !eof; }
    std::string s = carry_ + block;
    carry_.clear();
    if (!eof && !s.empty() && s.back() == '\r') { carry_ = "\r"; s.pop_back(); }
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\r') {
        out.push_back('\n');
        if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
      } else {
        out.push_back(s[i]);
      }
    }
    return !eof;
  }
  size_t total() const { return total_; }

 private:
  std::string path_;
  Newlines nl_;
  std::ifstream in_;
  std::string carry_;
  size_t total_ = 0;
};
}  // namespace

TokenLoad load_tokens_with(const Tokenizer& tok, const TextOptions& o, int64_t min_tokens) {
  TokenLoad r;
  const bool special = !o.no_special;
  if (o.max_tokens > 0) {
    std::error_code ec;
    require(std::filesystem::exists(o.text, ec), "cannot read " + o.text + ": no such file");
    require(std::filesystem::file_size(o.text, ec) > 0 || ec, "text " + o.text + " is empty");
    BlockReader reader(o.text, parse_newlines(o.newlines));
    Tokenizer::PrefixStats st;
    r.ids = tok.encode_prefix([&](std::string& s) { return reader.next(s); }, o.max_tokens, special, &st);
    r.whole_text = st.exhausted;
    r.bytes_encoded = st.bytes_encoded;
  } else {
    r.text = load_text(o.text, parse_newlines(o.newlines));
    r.ids = tok.encode(r.text, special);
    r.bytes_encoded = static_cast<int64_t>(r.text.size());
  }
  if (r.whole_text && r.text.empty() && o.max_tokens > 0) {
    // the whole (short) text was read: keep it for callers that report on it
    r.text = load_text(o.text, parse_newlines(o.newlines));
  }
  for (char c : r.text) r.chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  if (special) {
    r.special_prefix = tok.special_prefix();
    if (r.whole_text) r.special_suffix = tok.special_suffix();
  }
  r.bos_added = !r.special_prefix.empty();
  if (o.no_special)
    r.special_description = "none added (--no-special; the tokenizer would add " + tok.describe_bos() + ")";
  else if (r.special_prefix.empty() && tok.special_suffix().empty())
    r.special_description = "none added (the tokenizer adds no BOS/EOS)";
  else {
    r.special_description = tok.describe_bos() + (r.bos_added ? " added" : "");
    if (!tok.special_suffix().empty())
      r.special_description += std::string(", EOS ") + (r.special_suffix.empty() ? "not reached" : "added");
  }
  require(static_cast<int64_t>(r.ids.size()) >= min_tokens,
          "text " + o.text + " has " + std::to_string(r.ids.size()) + " token(s); at least " +
              std::to_string(min_tokens) + " are needed");
  return r;
}

std::vector<int64_t> load_tokens(const std::string& model_dir, const TextOptions& o,
                                 int64_t* total_tokens) {
  Tokenizer tok = Tokenizer::load(model_dir);
  // Where the model and the tokenizer meet: an id the embedding has no row for is an error
  // now, not an out-of-range index later.
  const int64_t vocab = ModelConfig::load(model_dir).vocab_size;
  if (tok.vocab_size() > vocab) {
    const int64_t id = tok.vocab_size() - 1;
    throw Error("tokenizer token " + std::to_string(id) + " ('" + tok.decode({id}) +
                "') is beyond the model's vocab_size " + std::to_string(vocab));
  }
  TokenLoad r = load_tokens_with(tok, o, 2);
  std::printf("special    %s\n", r.special_description.c_str());
  if (!r.whole_text)
    std::printf("           (--max-tokens %lld: the text was read only as far as needed, %lld bytes)\n",
                (long long)o.max_tokens, (long long)r.bytes_encoded);
  if (total_tokens) *total_tokens = static_cast<int64_t>(r.ids.size());
  if (o.max_tokens > 0 && static_cast<int64_t>(r.ids.size()) > o.max_tokens) r.ids.resize(o.max_tokens);
  return std::move(r.ids);
}

Provenance runtime_provenance(const std::string& command, const RuntimeOptions& o, const Model& model) {
  Provenance p;
  p.command = command;
  p.model_path = o.model;
  p.architecture = model.config().architecture;
  p.device = o.device;
  p.dtype = o.dtype;
  p.threads = o.device == "cpu" ? at::get_num_threads() : 0;
  return p;
}

int bos_added(const std::string& model_dir, const TextOptions& o) {
  if (o.no_special) return 0;
  return Tokenizer::load(model_dir).special_prefix().empty() ? 0 : 1;
}

std::string describe_device(const RuntimeOptions& o) {
  std::string s = o.device + "/" + o.dtype;
  if (o.device == "cpu") s += ", " + std::to_string(at::get_num_threads()) + " threads";
  return s;
}

}  // namespace headscope::cli
