// A Hugging Face tokenizer.json (BPE model), reproducing the `tokenizers` library's ids exactly:
// added tokens split out (raw, then in each normalised piece), normalizer, pre-tokenizer, BPE,
// then the post-processor's special tokens (BOS as Llama-2/3 add it). The components live in
// model/tokenizer/, one per file; this class wires them together.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace headscope {

class Tokenizer {
 public:
  // Loads `path` (a tokenizer.json, or a directory containing one; tokenizer_config.json next to
  // it is read for add_bos_token/add_eos_token when tokenizer.json has no template). Throws Error
  // with one line naming an unsupported component or inconsistent file.
  static Tokenizer load(const std::string& path);
  Tokenizer();
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // The ids of `text` (add_special: with the post-processor's special tokens, as tokenizers'
  // encode(text, add_special_tokens=True)). Throws Error on invalid UTF-8.
  std::vector<int64_t> encode(std::string_view text, bool add_special = true) const;

  // encode(whole text, add_special) truncated to max_tokens (> 0), reading the text in pieces:
  // `next` appends the next piece to its argument and returns false once the text is exhausted.
  // The text is encoded up to safe cuts (a newline followed by a letter, or by a space and a
  // letter, where this tokenizer provably or by probe treats both sides independently) and
  // reading stops once max_tokens ids exist, so time and memory follow max_tokens, not the text.
  struct PrefixStats {
    int64_t bytes_read = 0;     // bytes taken from `next`
    int64_t bytes_encoded = 0;  // of which encoded
    bool exhausted = false;     // the whole text was read
  };
  std::vector<int64_t> encode_prefix(const std::function<bool(std::string&)>& next, int64_t max_tokens,
                                     bool add_special = true, PrefixStats* stats = nullptr) const;

  // Text of the ids through the tokenizer.json decoder (skip_special: leave out special added
  // tokens). Unknown ids are skipped, as tokenizers does.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const;

  int64_t vocab_size() const;  // highest id + 1 (model vocabulary and added tokens)
  // Special tokens encode(…, true) puts before / after the text (e.g. {1} for Llama-2's <s>).
  const std::vector<int64_t>& special_prefix() const;
  const std::vector<int64_t>& special_suffix() const;
  // e.g. "BOS <s> (id 1, TemplateProcessing)" or "no BOS"
  std::string describe_bos() const;
  // One line: normalizer, pre-tokenizer, model options, post-processor, decoder.
  std::string describe() const;
  // Token string of an id ("" when unknown).
  std::string id_to_token(int64_t id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace headscope
