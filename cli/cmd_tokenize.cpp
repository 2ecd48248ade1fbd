// headscope tokenize: tokenises a text with a model directory's tokenizer.json (no weights
// needed) and reports the token count, characters per token and whether special tokens (BOS) were
// added; --ids prints the ids, --decode decodes them back and checks the round trip, --json
// records everything (ids under "ids") atomically. --batch encodes a JSONL file of {"text": ...}
// lines in one process (the differential fuzzer's entry point).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "cli/runtime.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "common/text.h"
#include "model/tokenizer.h"

namespace headscope::cli {

namespace {
using json = nlohmann::json;

struct TokenizeArgs {
  std::string model;
  TextOptions text;
  std::string json_out, batch;
  bool ids = false, decode = false;
};

std::string preview(const std::string& s, size_t max_chars) {
  std::string r;
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && chars++ == max_chars) return json(r).dump() + "...";
    r.push_back(s[i]);
  }
  return json(r).dump();
}

// One output line per input line: ids with and without special tokens and both decodings.
void run_batch(const TokenizeArgs& a) {
  usage_require(!a.json_out.empty(), "tokenize --batch needs --json OUT (a JSONL file)");
  Tokenizer tok = Tokenizer::load(a.model);
  std::ifstream in(a.batch);
  require(in.good(), "cannot read " + a.batch);
  std::string line, out;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      throw Error(a.batch + ":" + std::to_string(n) + ": not JSON: " + e.what());
    }
    require(j.is_object() && j.contains("text") && j["text"].is_string(),
            a.batch + ":" + std::to_string(n) + ": no \"text\" string");
    const std::string text = j["text"].get<std::string>();
    std::vector<int64_t> ids = tok.encode(text, true), plain = tok.encode(text, false);
    json r = {{"ids", ids}, {"ids_no_special", plain}, {"decoded", tok.decode(ids)},
              {"decoded_skip_special", tok.decode(ids, true)}};
    out += r.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  }
  write_file_atomic(a.json_out, out);
  std::printf("tokenized %lld lines of %s -> %s\n", (long long)n, a.batch.c_str(), a.json_out.c_str());
}
}  // namespace

void register_tokenize(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* sub = app.add_subcommand("tokenize", "tokenise a text: token count, chars/token, special tokens, ids");
  sub->add_option("--model", args->model, "directory with tokenizer.json (weights are not needed), or the file")
      ->required();
  auto* text_opt = sub->add_option("--text", args->text.text, "UTF-8 text file");
  auto* batch_opt = sub->add_option("--batch", args->batch,
                                    "JSONL file of {\"text\": ...} lines: writes ids, ids_no_special, decoded "
                                    "per line to --json");
  text_opt->excludes(batch_opt);
  sub->add_option("--max-tokens", args->text.max_tokens,
                  "stop after N tokens, reading the text only as far as needed (0 = all)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  sub->add_option("--newlines", args->text.newlines, "keep: text as is; lf: CRLF/CR -> LF")
      ->check(CLI::IsMember({"keep", "lf"}))->capture_default_str();
  sub->add_flag("--no-special", args->text.no_special, "do not add the tokenizer's special tokens (BOS/EOS)");
  sub->add_option("--json", args->json_out, "write the result (ids under \"ids\") to this JSON file");
  sub->add_flag("--ids", args->ids, "also print the token ids (one line, space-separated)");
  sub->add_flag("--decode", args->decode, "decode the ids back to text and check the round trip");
  sub->callback([args]() {
    const TokenizeArgs& a = *args;
    if (!a.batch.empty()) { run_batch(a); return; }
    usage_require(!a.text.text.empty(), "tokenize needs --text F (or --batch F)");
    Tokenizer tok = Tokenizer::load(a.model);
    auto t0 = std::chrono::steady_clock::now();
    TokenLoad load = load_tokens_with(tok, a.text, /*min_tokens=*/0);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::vector<int64_t>& ids = load.ids;
    const int64_t total = static_cast<int64_t>(ids.size());
    std::printf("tokenizer   %s (vocab %lld): %s\n", a.model.c_str(), (long long)tok.vocab_size(),
                tok.describe().c_str());
    std::printf("text        %s (%lld bytes%s, newlines=%s)\n", a.text.text.c_str(), (long long)load.bytes_encoded,
                load.whole_text ? "" : " encoded: the text was read only as far as needed", a.text.newlines.c_str());
    std::printf("special     %s\n", load.special_description.c_str());
    std::printf("tokens      %lld%s\n", (long long)total, load.whole_text ? "" : " (stopped at --max-tokens)");
    if (load.whole_text) {
      std::printf("chars/token %.4f\n", total > 0 ? double(load.chars) / double(total) : 0.0);
    }
    std::printf("time        %.3f s (%.2f MB/s, reading included)\n", secs,
                secs > 0 ? load.bytes_encoded / secs / 1e6 : 0.0);
    if (a.ids) {
      std::string line;
      line.reserve(ids.size() * 6);
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i) line.push_back(' ');
        line += std::to_string(ids[i]);
      }
      std::printf("ids:\n%s\n", line.c_str());
    }
    std::string decoded;
    bool round_trip = false;
    if (a.decode) {
      decoded = tok.decode(ids, /*skip_special=*/true);
      round_trip = load.whole_text && decoded == load.text;
      std::printf("decoded     %s\n", preview(decoded, 120).c_str());
      if (load.whole_text)
        std::printf("round trip  %s\n", round_trip ? "exact (decode(ids) == text)"
                                                   : "differs (the tokenizer normalises or drops characters)");
    }
    if (!a.json_out.empty()) {
      json j = {{"tokenizer", a.model}, {"text", a.text.text}, {"newlines", a.text.newlines},
                {"add_special", !a.text.no_special}, {"bos_added", load.bos_added},
                {"special_prefix", load.special_prefix}, {"special_suffix", load.special_suffix},
                {"tokens", total}, {"whole_text", load.whole_text}, {"bytes_encoded", load.bytes_encoded},
                {"max_tokens", a.text.max_tokens}, {"ids", ids}};
      if (a.decode) {
        j["decoded"] = decoded;
        if (load.whole_text) j["round_trip_exact"] = round_trip;
      }
      write_file_atomic(a.json_out, j.dump(1, ' ', false, json::error_handler_t::replace) + "\n");
      std::printf("json        %s\n", a.json_out.c_str());
    }
  });
}

}  // namespace headscope::cli
