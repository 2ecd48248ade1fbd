// The BPE model of a tokenizer.json, as the tokenizers library runs it: a word's characters
// (with continuing_subword_prefix / end_of_word_suffix when set) looked up in the vocabulary,
// unknown ones as <0xNN> byte tokens (byte_fallback) or the unk token (fused when fuse_unk), then
// merges applied lowest rank first, leftmost on ties (Word::merge_all); with ignore_merges a word
// that is itself in the vocabulary is one token.
#pragma once
#include <cstdint>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace headscope::tok {

class Bpe {
 public:
  // Reads "model" (type BPE). Throws Error for unsupported options, a merge naming a token that
  // is not in the vocabulary, or byte_fallback without all 256 <0xNN> tokens.
  static Bpe from_json(const nlohmann::json& model);
  Bpe() = default;
  Bpe(Bpe&& o) noexcept;
  Bpe& operator=(Bpe&& o) noexcept;

  void encode_word(std::string_view word, std::vector<int64_t>& out) const;

  // id -> token string ("" and known=false for holes)
  const std::vector<std::string>& id_to_token() const { return id_to_token_; }
  const std::unordered_map<std::string, int32_t>& vocab() const { return vocab_; }
  int64_t find(const std::string& token) const;  // -1 when absent
  size_t vocab_entries() const { return vocab_.size(); }
  // True when no merge can ever join a symbol ending in character a with one starting with b:
  // both are single-character tokens and no token holds "ab", or one of them becomes a byte
  // token (byte_fallback) that no merge uses on that side.
  bool never_merged(uint32_t a, uint32_t b) const;

 private:
  struct Merge { int32_t rank, new_id; };
  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  // (left id, right id) -> merge: open addressing over a power-of-two table (the merge loop
  // looks pairs up constantly)
  struct Slot { uint64_t key; Merge m; };
  std::vector<Slot> merge_slots_;
  size_t merge_mask_ = 0;
  const Merge* find_merge(int32_t a, int32_t b) const;
  void put_merge(int32_t a, int32_t b, Merge m);
  std::unordered_map<uint32_t, int32_t> char_id_;  // single-character tokens
  std::vector<int32_t> char_id_bmp_;               // the same for U+0000-U+FFFF, -1 when absent
  std::unordered_set<uint64_t> pairs_;             // adjacent characters inside some token
  std::unordered_set<int32_t> merge_left_, merge_right_;  // ids on each side of some merge
  int32_t byte_id_[256];
  bool byte_fallback_ = false, fuse_unk_ = false, ignore_merges_ = false;
  int32_t unk_id_ = -1;
  std::string prefix_, suffix_;  // continuing_subword_prefix, end_of_word_suffix
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;

  static uint64_t key(uint32_t a, uint32_t b) { return (uint64_t(a) << 32) | b; }
  void merge_word(std::string_view w, std::vector<int32_t>& out) const;
  void encode_chunk(std::string_view w, std::vector<int64_t>& out) const;
};

}  // namespace headscope::tok
