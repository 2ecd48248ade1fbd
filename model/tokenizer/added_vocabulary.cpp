#include "model/tokenizer/added_vocabulary.h"

#include <nlohmann/json.hpp>

#include <unordered_map>
#include <unordered_set>

#include "common/error.h"
#include "model/tokenizer/bpe.h"
#include "model/tokenizer/normalizer.h"
#include "model/tokenizer/unicode.h"

namespace headscope::tok {

using json = nlohmann::json;

void AddedVocabulary::Trie::insert(const std::string& s, int32_t token) {
  int32_t n = 0;
  for (unsigned char c : s) {
    if (nodes[n].next[c] < 0) {
      nodes[n].next[c] = static_cast<int32_t>(nodes.size());
      nodes.emplace_back();
    }
    n = nodes[n].next[c];
  }
  if (nodes[n].token < 0) nodes[n].token = token;  // the first pattern wins among equals
}

int32_t AddedVocabulary::Trie::longest_at(std::string_view s, size_t i, size_t& len) const {
  int32_t n = 0, best = -1;
  for (size_t j = i; j < s.size(); ++j) {
    n = nodes[n].next[static_cast<unsigned char>(s[j])];
    if (n < 0) break;
    if (nodes[n].token >= 0) { best = nodes[n].token; len = j + 1 - i; }
  }
  return best;
}

namespace {
bool flag(const json& t, const char* key, bool dflt) {
  auto it = t.find(key);
  if (it == t.end() || it->is_null()) return dflt;
  if (!it->is_boolean()) throw Error(std::string("tokenizer.json: added token field '") + key + "' is not a boolean");
  return it->get<bool>();
}
bool same_as(const AddedToken& a, const AddedToken& o) {  // tokenizers' AddedToken equality
  return a.content == o.content && a.single_word == o.single_word && a.lstrip == o.lstrip &&
         a.rstrip == o.rstrip && a.normalized == o.normalized && a.special == o.special;
}
}  // namespace

// Registered as tokenizers does when it reads the file: one by one, in file order; a token whose
// content is already known (added before, or in the model vocab) takes that id, any other gets the
// next free id from the model vocab's size on. The "id" fields of the file are not used (tokenizers
// only warns when they disagree).
AddedVocabulary AddedVocabulary::from_json(const json& at, const Bpe& model, const Normalizer& normalizer) {
  AddedVocabulary v;
  if (at.is_null()) return v;
  if (!at.is_array()) throw Error("tokenizer.json: added_tokens is not an array");
  const int64_t model_size = static_cast<int64_t>(model.vocab_entries());
  std::unordered_map<std::string, int32_t> added_map;  // content -> id
  std::unordered_map<int32_t, size_t> index_of_id;     // id -> entry in added_
  std::vector<AddedToken> special_list, classic_list;  // trie patterns, in tokenizers' order
  std::unordered_set<std::string> special_set;
  int64_t max_added = -1;
  for (const json& t : at) {
    if (!t.is_object()) throw Error("tokenizer.json: an added token is not an object");
    if (!t.contains("id") || !t["id"].is_number_integer() || t["id"].get<int64_t>() < 0)
      throw Error("tokenizer.json: added token id is not a valid integer: " + t.value("id", json()).dump());
    if (!t.contains("content") || !t["content"].is_string())
      throw Error("tokenizer.json: an added token has no 'content' string");
    AddedToken a;
    a.content = t["content"].get<std::string>();
    a.special = flag(t, "special", false);
    a.single_word = flag(t, "single_word", false);
    a.lstrip = flag(t, "lstrip", false);
    a.rstrip = flag(t, "rstrip", false);
    a.normalized = flag(t, "normalized", !a.special);
    if (a.special && !a.content.empty() && special_set.insert(a.content).second) special_list.push_back(a);
    if (a.content.empty()) continue;
    bool dup = false;
    for (const AddedToken& e : v.added_) dup = dup || same_as(e, a);
    if (dup) continue;
    if (auto it = added_map.find(a.content); it != added_map.end()) {
      a.id = it->second;
    } else if (int64_t mid = model.find(a.content); mid >= 0) {
      a.id = static_cast<int32_t>(mid);
    } else {
      int64_t nid = max_added < 0 ? model_size
                    : (max_added >= model_size || model_size == 0) ? max_added + 1 : model_size;
      if (nid >= (int64_t(1) << 30)) throw Error("tokenizer.json: too many added tokens");
      a.id = static_cast<int32_t>(nid);
    }
    added_map[a.content] = a.id;
    max_added = std::max<int64_t>(max_added, a.id);
    if (auto ix = index_of_id.find(a.id); ix != index_of_id.end()) {
      v.added_[ix->second] = a;
    } else {
      index_of_id[a.id] = v.added_.size();
      v.added_.push_back(a);
    }
    if (!special_set.count(a.content)) classic_list.push_back(a);
  }
  for (const std::vector<AddedToken>* list : {&special_list, &classic_list}) {
    for (const AddedToken& a : *list) {
      auto it = added_map.find(a.content);
      if (it == added_map.end()) continue;
      auto ix = index_of_id.find(it->second);
      if (ix == index_of_id.end()) continue;
      // the pattern is the token's content, normalised like the text when the token is
      std::string pattern = a.content;
      if (a.normalized) normalizer.normalize(pattern);
      if (pattern.empty()) continue;
      (a.normalized ? v.norm_ : v.raw_).insert(pattern, static_cast<int32_t>(ix->second));
      v.patterns_.push_back(pattern);
    }
  }
  return v;
}

const AddedToken* AddedVocabulary::by_id(int64_t id) const {
  for (const AddedToken& a : added_)
    if (a.id == id) return &a;
  return nullptr;
}

int64_t AddedVocabulary::id_of(const std::string& content) const {
  for (const AddedToken& a : added_)
    if (a.content == content) return a.id;
  return -1;
}

bool AddedVocabulary::newline_cut_safe(unsigned char x, unsigned char y) const {
  for (const std::string& p : patterns_)
    if (p.find('\n') != std::string::npos || static_cast<unsigned char>(p.front()) == y ||
        static_cast<unsigned char>(p.back()) == x)
      return false;
  return true;
}

void AddedVocabulary::split(std::string_view s, bool normalized, std::vector<Span>& out) const {
  const Trie& trie = normalized ? norm_ : raw_;
  if (trie.nodes.size() == 1) {
    if (!s.empty()) out.push_back({0, s.size(), -1});
    return;
  }
  size_t start_offset = 0, i = 0;
  while (i < s.size()) {
    size_t len = 0;
    int32_t t = trie.longest_at(s, i, len);
    if (t < 0) { ++i; continue; }
    size_t start = i, stop = i + len;
    const AddedToken& tok = added_[t];
    i = stop;  // the automaton resumes right after the match, whatever rstrip takes
    if (tok.single_word) {
      bool start_space = start == 0 || !is_word_char(prev_cp(s, start));
      size_t k = stop;
      bool stop_space = stop == s.size() || !is_word_char(next_cp(s, k));
      if (!start_space || !stop_space) continue;
    }
    if (tok.lstrip) {
      size_t ns = start;
      while (ns > 0) {
        size_t b;
        uint32_t c = prev_cp(s, ns, &b);
        if (!is_white_space(c)) break;
        ns = b;
      }
      start = std::max(ns, start_offset);
    }
    if (tok.rstrip) {
      size_t k = stop;
      while (k < s.size()) {
        size_t k2 = k;
        if (!is_white_space(next_cp(s, k2))) break;
        k = k2;
      }
      stop = k;
    }
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, tok.id});
    start_offset = stop;
  }
  if (start_offset < s.size()) out.push_back({start_offset, s.size(), -1});
}

}  // namespace headscope::tok
