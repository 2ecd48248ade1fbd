// Byte-level BPE tokenizer read from a Hugging Face tokenizer.json (GPT-NeoX-20B / Pythia):
// added tokens split out first, NFC normalisation, GPT-2 pre-tokenisation regex, byte-to-unicode
// mapping, merges by rank. Reproduces the `tokenizers` library's ids exactly.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace headscope {

class Tokenizer {
 public:
  // Loads `path` (a tokenizer.json, or a model directory containing one). Throws Error.
  static Tokenizer load(const std::string& path);
  Tokenizer();
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // Throws Error on invalid UTF-8.
  std::vector<int64_t> encode(std::string_view text) const;
  std::string decode(const std::vector<int64_t>& ids) const;
  int64_t vocab_size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace headscope
