// Added tokens of a tokenizer.json (tokenizers' AddedVocabulary): registered in file order, ids
// resolved as the library does, then matched leftmost-longest — tokens with normalized=false in
// the raw text, the others in each normalised piece — honouring single_word, lstrip and rstrip.
#pragma once
#include <array>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace headscope::tok {

class Bpe;
class Normalizer;

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

// A stretch of text: either an added token (id >= 0) or text still to encode.
struct Span {
  size_t begin, end;
  int32_t id = -1;
};

class AddedVocabulary {
 public:
  static AddedVocabulary from_json(const nlohmann::json& added_tokens, const Bpe& model,
                                   const Normalizer& normalizer);

  // tokenizers' find_matches: splits s with the raw (normalized=false) or normalised patterns.
  void split(std::string_view s, bool normalized, std::vector<Span>& out) const;
  bool has_normalized() const { return norm_.nodes.size() > 1; }
  bool has_raw() const { return raw_.nodes.size() > 1; }

  const std::vector<AddedToken>& tokens() const { return added_; }
  const AddedToken* by_id(int64_t id) const;
  int64_t id_of(const std::string& content) const;  // -1 when not an added token
  // True when no pattern contains '\n', none starts with byte y and none ends with byte x: a text
  // cut between "x\n" and "y" then never cuts or moves an added-token match.
  bool newline_cut_safe(unsigned char x, unsigned char y) const;

 private:
  struct Trie {
    struct Node {
      std::array<int32_t, 256> next;
      int32_t token = -1;  // index into added_ when a pattern ends here
      Node() { next.fill(-1); }
    };
    std::vector<Node> nodes{Node()};
    void insert(const std::string& s, int32_t token);
    int32_t longest_at(std::string_view s, size_t i, size_t& len) const;
  };
  std::vector<AddedToken> added_;  // one entry per id (tokenizers' added_tokens_map_r)
  Trie raw_, norm_;
  std::vector<std::string> patterns_;
};

}  // namespace headscope::tok
