// headscope tokenize: tokenises a text with a model directory's tokenizer.json and reports the
// token count and characters per token; --ids also prints the ids (one line, space-separated).
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/runtime.h"
#include "common/text.h"
#include "model/tokenizer.h"

namespace headscope::cli {

namespace {
struct TokenizeArgs {
  std::string model;
  TextOptions text;
  bool ids = false;
};

int64_t count_code_points(const std::string& s) {
  int64_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}
}  // namespace

void register_tokenize(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* sub = app.add_subcommand("tokenize", "tokenise a text: token count, chars/token, ids");
  sub->add_option("--model", args->model, "model directory (or a tokenizer.json file)")->required();
  add_text_options(sub, args->text, 0);
  sub->add_flag("--ids", args->ids, "also print the token ids (one line, space-separated)");
  sub->callback([args]() {
    std::string text = load_text(args->text.text, parse_newlines(args->text.newlines));
    Tokenizer tok = Tokenizer::load(args->model);
    auto t0 = std::chrono::steady_clock::now();
    std::vector<int64_t> ids = tok.encode(text);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const int64_t total = static_cast<int64_t>(ids.size());
    const int64_t chars = count_code_points(text);
    std::printf("tokenizer   %s (vocab %lld)\n", args->model.c_str(), (long long)tok.vocab_size());
    std::printf("text        %s (%zu bytes, %lld chars, newlines=%s)\n", args->text.text.c_str(),
                text.size(), (long long)chars, args->text.newlines.c_str());
    std::printf("tokens      %lld\n", (long long)total);
    std::printf("chars/token %.4f\n", total > 0 ? double(chars) / double(total) : 0.0);
    std::printf("time        %.3f s (%.2f MB/s)\n", secs, secs > 0 ? text.size() / secs / 1e6 : 0.0);
    if (args->ids) {
      if (args->text.max_tokens > 0 && total > args->text.max_tokens) {
        ids.resize(static_cast<size_t>(args->text.max_tokens));
        std::printf("ids         first %lld of %lld:\n", (long long)args->text.max_tokens, (long long)total);
      } else {
        std::printf("ids:\n");
      }
      std::string line;
      line.reserve(ids.size() * 6);
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i) line.push_back(' ');
        line += std::to_string(ids[i]);
      }
      std::printf("%s\n", line.c_str());
    }
  });
}

}  // namespace headscope::cli
