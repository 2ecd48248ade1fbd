// Byte-level BPE from a Hugging Face tokenizer.json, following the `tokenizers` library step by
// step so that ids match it exactly:
//   1. added tokens with normalized=false are split out of the raw text (leftmost-longest);
//   2. each remaining piece is normalised (NFC), then added tokens with normalized=true are split
//      out of it (leftmost-longest), honouring single_word / lstrip / rstrip;
//   3. each remaining piece is pre-tokenised with the GPT-2 regex (ByteLevel pre-tokenizer);
//   4. each pre-token is encoded by BPE over its bytes (byte-level alphabet), merging the pair of
//      lowest rank first (leftmost on ties), exactly like tokenizers' Word::merge_all.
// Decoding maps ids to bytes (byte-level alphabet reversed; added tokens by content) and turns the
// byte string into UTF-8 lossily, as tokenizers' ByteLevel decoder does.
#include "model/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <array>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/text.h"

namespace headscope {

namespace {

using json = nlohmann::json;

// The GPT-2 pre-tokenisation regex. tokenizers runs it with Oniguruma, whose Unicode `\s` is the
// White_Space property: U+0009-U+000D, U+0085 and the Z categories. PCRE2's `\s` under UCP differs
// between versions (U+0085), so the class is spelled out here to make the split version-proof.
constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\t-\\r\\x{85}\\p{Z}\\p{L}\\p{N}]+"
    "|[\\t-\\r\\x{85}\\p{Z}]+(?![^\\t-\\r\\x{85}\\p{Z}])|[\\t-\\r\\x{85}\\p{Z}]+";

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to U+0100 upwards.
std::array<uint32_t, 256> byte_to_codepoint() {
  std::array<uint32_t, 256> m{};
  std::array<bool, 256> direct{};
  for (int b = '!'; b <= '~'; ++b) direct[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
  uint32_t n = 0;
  for (int b = 0; b < 256; ++b) m[b] = direct[b] ? uint32_t(b) : 256 + n++;
  return m;
}

// Decodes one code point at s[i] (s is valid UTF-8); advances i.
uint32_t next_cp(std::string_view s, size_t& i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) { ++i; return c; }
  int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  uint32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
  for (int k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += len;
  return cp;
}

// Code point ending at s[end) (s valid UTF-8, end > 0).
uint32_t prev_cp(std::string_view s, size_t end, size_t* start_out = nullptr) {
  size_t b = end - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  if (start_out) *start_out = b;
  size_t i = b;
  return next_cp(s, i);
}

// Rust's char::is_whitespace (the White_Space property).
bool is_white_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// A word character as Rust's regex `\w` (used by tokenizers for single_word added tokens):
// letters, marks, decimal and letter numbers, connector punctuation, ZWNJ/ZWJ.
bool is_word_char(uint32_t c) {
  if (c == 0x200C || c == 0x200D) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

std::string nfc_utf8proc(std::string_view s) {
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                    static_cast<utf8proc_ssize_t>(s.size()), &out,
                                    static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) throw Error(std::string("NFC normalisation failed: ") + utf8proc_errmsg(n));
  std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
}

// NFC of valid UTF-8. ASCII characters are starters that never decompose and are never the second
// half of a canonical composition, so the text can be cut right before any ASCII character and
// normalised piecewise: only each non-ASCII run, with the ASCII character before it (which may be
// its base, as in "e" + U+0301), goes through utf8proc; the rest is copied.
std::string nfc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0, n = s.size();
  while (i < n) {
    size_t j = i;
    while (j < n && static_cast<unsigned char>(s[j]) < 0x80) ++j;
    if (j == n) { out.append(s.substr(i)); break; }
    size_t start = j > i ? j - 1 : j;
    size_t k = j;
    while (k < n && static_cast<unsigned char>(s[k]) >= 0x80) ++k;
    out.append(s.substr(i, start - i));
    out += nfc_utf8proc(s.substr(start, k - start));
    i = k;
  }
  return out;
}

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = false;
  bool same_as(const AddedToken& o) const {  // tokenizers' AddedToken equality (all but the id)
    return content == o.content && single_word == o.single_word && lstrip == o.lstrip &&
           rstrip == o.rstrip && normalized == o.normalized && special == o.special;
  }
};

// Byte trie over added-token contents, giving aho-corasick LeftmostLongest matches.
struct AddedTrie {
  struct Node {
    std::array<int32_t, 256> next;
    int32_t token = -1;  // index into the token list when a token ends here
    Node() { next.fill(-1); }
  };
  std::vector<Node> nodes{Node()};

  bool empty() const { return nodes.size() == 1; }
  void insert(const std::string& s, int32_t token) {
    int32_t n = 0;
    for (unsigned char c : s) {
      if (nodes[n].next[c] < 0) {
        nodes[n].next[c] = static_cast<int32_t>(nodes.size());
        nodes.emplace_back();
      }
      n = nodes[n].next[c];
    }
    if (nodes[n].token < 0) nodes[n].token = token;  // first declared wins on duplicates
  }
  // Longest token starting at s[i]: returns its index and sets len, or -1.
  int32_t longest_at(std::string_view s, size_t i, size_t& len) const {
    int32_t n = 0, best = -1;
    for (size_t j = i; j < s.size(); ++j) {
      n = nodes[n].next[static_cast<unsigned char>(s[j])];
      if (n < 0) break;
      if (nodes[n].token >= 0) { best = nodes[n].token; len = j + 1 - i; }
    }
    return best;
  }
};

struct Piece {
  std::string text;
  int32_t id = -1;  // >= 0: an added token already resolved
};

struct MergeInfo {
  int32_t rank;
  int32_t new_id;
};

// (left id, right id) -> merge: open addressing with linear probing over a power-of-two table,
// one flat array (the BPE inner loop looks pairs up constantly).
class MergeTable {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    slots_.assign(cap, Slot{kEmpty, {0, 0}});
    mask_ = cap - 1;
  }
  // Keeps the first insertion of a key (the lowest rank). Table must have been reserved.
  void insert(int32_t a, int32_t b, MergeInfo m) {
    uint64_t k = key(a, b);
    for (size_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == k) return;
      if (slots_[i].key == kEmpty) { slots_[i] = Slot{k, m}; return; }
    }
  }
  const MergeInfo* find(int32_t a, int32_t b) const {
    if (slots_.empty()) return nullptr;
    uint64_t k = key(a, b);
    for (size_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == k) return &slots_[i].m;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t(0);  // ids are < 2^30, so never a real key
  struct Slot {
    uint64_t key;
    MergeInfo m;
  };
  static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
  static size_t hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

const json& need(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  require(it != j.end(), "tokenizer.json: missing " + where + key);
  return *it;
}

bool flag(const json& t, const char* key, bool dflt) {
  auto it = t.find(key);
  if (it == t.end() || it->is_null()) return dflt;
  require(it->is_boolean(), std::string("tokenizer.json: added token field '") + key + "' is not a boolean");
  return it->get<bool>();
}

std::string type_of(const json& j) {
  if (j.is_null()) return "";
  require(j.is_object(), "tokenizer.json: a component is not an object");
  auto it = j.find("type");
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string("?");
}

}  // namespace

struct Tokenizer::Impl {
  // model
  std::array<int32_t, 256> byte_id{};  // id of each single byte (-1 if absent)
  MergeTable merges;
  std::unordered_map<std::string, int32_t> vocab_bytes;  // raw bytes -> id (ignore_merges)
  bool ignore_merges = false;
  int32_t unk_id = -1;
  // pipeline options
  bool use_nfc = false;
  bool add_prefix_space = false;
  bool use_regex = true;
  // added tokens: one entry per id (tokenizers' added_tokens_map_r); the tries point into it
  std::vector<AddedToken> added;
  AddedTrie raw_trie, norm_trie;
  // decoding
  std::vector<std::string> id_bytes;
  std::vector<bool> id_known;
  // pre-tokeniser
  pcre2_code* re = nullptr;
  bool jit = false;
  // word cache
  mutable std::mutex cache_mu;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

  ~Impl() {
    if (re) pcre2_code_free(re);
  }

  void compile_regex() {
    int err = 0;
    PCRE2_SIZE off = 0;
    re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kGpt2Pattern), PCRE2_ZERO_TERMINATED,
                       PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
    if (!re) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      throw Error(std::string("tokenizer: cannot compile the pre-tokenisation regex: ") +
                  reinterpret_cast<char*>(msg));
    }
    jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
  }

  // Splits `s` with `trie` (tokenizers' AddedVocabulary::find_matches) and appends the pieces.
  void split_added(const std::string& s, const AddedTrie& trie, std::vector<Piece>& out) const {
    if (trie.empty()) {
      if (!s.empty()) out.push_back({s, -1});
      return;
    }
    size_t start_offset = 0, i = 0;
    while (i < s.size()) {
      size_t len = 0;
      int32_t t = trie.longest_at(s, i, len);
      if (t < 0) { ++i; continue; }
      size_t start = i, stop = i + len;
      const AddedToken& tok = added[t];
      i = stop;  // matches never overlap
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
        i = std::max(i, stop);
      }
      if (start_offset < start) out.push_back({s.substr(start_offset, start - start_offset), -1});
      out.push_back({s.substr(start, stop - start), tok.id});
      start_offset = stop;
    }
    if (start_offset < s.size()) out.push_back({s.substr(start_offset), -1});
  }

  // tokenizers' Word::merge_all over one pre-token's bytes.
  void bpe(std::string_view word, std::vector<int32_t>& out) const {
    if (ignore_merges) {
      auto it = vocab_bytes.find(std::string(word));
      if (it != vocab_bytes.end()) { out.push_back(it->second); return; }
    }
    struct Sym { int32_t id; int32_t prev, next; bool alive; };
    std::vector<Sym> sym;
    sym.reserve(word.size());
    for (unsigned char c : word) {
      int32_t id = byte_id[c];
      if (id < 0) {
        if (unk_id < 0) continue;  // tokenizers drops characters it cannot map without unk
        id = unk_id;
      }
      int32_t k = static_cast<int32_t>(sym.size());
      sym.push_back({id, k - 1, k + 1, true});
    }
    if (sym.empty()) return;
    sym.back().next = -1;
    struct Cand {
      int32_t rank, pos, new_id;
      bool operator<(const Cand& o) const {  // max-heap pops the lowest rank, then lowest pos
        return rank != o.rank ? rank > o.rank : pos > o.pos;
      }
    };
    auto lookup = [&](int32_t a, int32_t b) { return merges.find(a, b); };
    std::priority_queue<Cand> q;
    for (size_t k = 0; k + 1 < sym.size(); ++k)
      if (const MergeInfo* m = lookup(sym[k].id, sym[k + 1].id))
        q.push({m->rank, static_cast<int32_t>(k), m->new_id});
    while (!q.empty()) {
      Cand top = q.top();
      q.pop();
      Sym& cur = sym[top.pos];
      if (!cur.alive || cur.next < 0) continue;
      Sym& right = sym[cur.next];
      const MergeInfo* m = lookup(cur.id, right.id);
      if (!m || m->new_id != top.new_id) continue;  // stale entry
      cur.id = top.new_id;
      right.alive = false;
      cur.next = right.next;
      if (cur.next >= 0) sym[cur.next].prev = top.pos;
      if (cur.prev >= 0)
        if (const MergeInfo* pm = lookup(sym[cur.prev].id, cur.id)) q.push({pm->rank, cur.prev, pm->new_id});
      if (cur.next >= 0)
        if (const MergeInfo* nm = lookup(cur.id, sym[cur.next].id)) q.push({nm->rank, top.pos, nm->new_id});
    }
    for (const Sym& s : sym)
      if (s.alive) out.push_back(s.id);
  }

  void encode_word(std::string_view word, std::vector<int64_t>& out) const {
    constexpr size_t kMaxCachedWord = 256;     // longer words are rare: not worth keeping
    constexpr size_t kMaxCacheEntries = 500000;  // bounds memory on huge, diverse inputs
    thread_local std::vector<int32_t> tmp;
    const bool cacheable = word.size() <= kMaxCachedWord;
    std::string key;
    if (cacheable) {
      key.assign(word);
      std::lock_guard<std::mutex> lk(cache_mu);
      auto it = cache.find(key);
      if (it != cache.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    tmp.clear();
    bpe(word, tmp);
    out.insert(out.end(), tmp.begin(), tmp.end());
    if (!cacheable) return;
    std::lock_guard<std::mutex> lk(cache_mu);
    if (cache.size() >= kMaxCacheEntries) cache.clear();
    cache.emplace(std::move(key), tmp);
  }

  void pretokenize_and_encode(std::string_view s, std::vector<int64_t>& out) const {
    if (!use_regex) { encode_word(s, out); return; }
    std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> md_owner(
        pcre2_match_data_create_from_pattern(re, nullptr), pcre2_match_data_free);
    pcre2_match_data* md = md_owner.get();
    require(md != nullptr, "tokenizer: out of memory");
    auto subj = reinterpret_cast<PCRE2_SPTR>(s.data());
    size_t pos = 0;
    while (pos < s.size()) {
      int rc = jit ? pcre2_jit_match(re, subj, s.size(), pos, 0, md, nullptr) : PCRE2_ERROR_JIT_BADOPTION;
      if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)  // no JIT, or it ran out of stack: interpret
        rc = pcre2_match(re, subj, s.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        throw Error(std::string("tokenizer: pre-tokenisation regex failed: ") + reinterpret_cast<char*>(msg));
      }
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      size_t b = ov[0], e = ov[1];
      if (b > pos) encode_word(s.substr(pos, b - pos), out);  // unmatched gap: its own piece
      if (e == b) {  // an empty match (impossible with this pattern) must not loop forever
        ++e;
        while (e < s.size() && (static_cast<unsigned char>(s[e]) & 0xC0) == 0x80) ++e;
      }
      encode_word(s.substr(b, e - b), out);
      pos = e;
    }
    if (pos < s.size()) encode_word(s.substr(pos), out);
  }
};

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Tokenizer Tokenizer::load(const std::string& path_in) {
  namespace fs = std::filesystem;
  std::string path = path_in;
  std::error_code ec;
  if (fs::is_directory(path, ec)) path = (fs::path(path) / "tokenizer.json").string();
  require(fs::exists(path, ec), "tokenizer file not found: " + path);
  std::string raw = read_file(path);
  json j;
  try {
    j = json::parse(raw);
  } catch (const json::exception& e) {
    throw Error("tokenizer.json is not valid JSON (" + path + "): " + e.what());
  }
  require(j.is_object(), "tokenizer.json is not a JSON object: " + path);

  auto impl = std::make_unique<Impl>();
  Impl& m = *impl;
  try {
    // ---- components we reproduce; anything else would silently change ids, so refuse it
    const std::string norm = j.contains("normalizer") ? type_of(j["normalizer"]) : "";
    require(norm.empty() || norm == "NFC", "tokenizer.json: unsupported normalizer '" + norm + "'");
    m.use_nfc = norm == "NFC";
    const json pre = j.value("pre_tokenizer", json());
    const std::string pre_t = type_of(pre);
    require(pre_t == "ByteLevel", "tokenizer.json: unsupported pre_tokenizer '" + pre_t +
                                      "' (only ByteLevel is supported)");
    m.add_prefix_space = pre.value("add_prefix_space", false);
    m.use_regex = pre.value("use_regex", true);
    const std::string dec_t = j.contains("decoder") ? type_of(j["decoder"]) : "";
    require(dec_t.empty() || dec_t == "ByteLevel", "tokenizer.json: unsupported decoder '" + dec_t + "'");
    const std::string post_t = j.contains("post_processor") ? type_of(j["post_processor"]) : "";
    require(post_t.empty() || post_t == "ByteLevel",
            "tokenizer.json: unsupported post_processor '" + post_t + "'");

    const json& model = need(j, "model", "");
    require(model.is_object(), "tokenizer.json: model is not an object");
    const std::string mt = model.value("type", std::string("BPE"));
    require(mt == "BPE", "tokenizer.json: unsupported model type '" + mt + "' (only BPE)");
    auto is_unset = [&](const char* k) {
      auto it = model.find(k);
      return it == model.end() || it->is_null() || (it->is_string() && it->get<std::string>().empty()) ||
             (it->is_number() && it->get<double>() == 0.0) || (it->is_boolean() && !it->get<bool>());
    };
    require(is_unset("dropout"), "tokenizer.json: BPE dropout is not supported");
    require(is_unset("continuing_subword_prefix") && is_unset("end_of_word_suffix"),
            "tokenizer.json: continuing_subword_prefix/end_of_word_suffix are not supported");
    require(is_unset("byte_fallback"), "tokenizer.json: byte_fallback is not supported");
    m.ignore_merges = !is_unset("ignore_merges");

    // ---- vocab (keys in the byte-level alphabet)
    const std::array<uint32_t, 256> b2c = byte_to_codepoint();
    std::array<int16_t, 512> c2b;
    c2b.fill(-1);
    for (int b = 0; b < 256; ++b) c2b[b2c[b]] = static_cast<int16_t>(b);
    // Byte-level decoding of a token string: every char mapped back to its byte, or (when some
    // char is outside the alphabet) the string's own UTF-8, as tokenizers' ByteLevel decoder does.
    auto to_bytes = [&](const std::string& t, bool* pure) {
      std::string r;
      size_t i = 0;
      while (i < t.size()) {
        uint32_t c = next_cp(t, i);
        if (c >= c2b.size() || c2b[c] < 0) { if (pure) *pure = false; return t; }
        r.push_back(static_cast<char>(c2b[c]));
      }
      if (pure) *pure = true;
      return r;
    };

    const json& vocab = need(model, "vocab", "model.");
    require(vocab.is_object(), "tokenizer.json: model.vocab is not an object");
    require(!vocab.empty(), "tokenizer.json: model.vocab is empty");
    // keys are views of the parsed document's strings, which outlive this map
    std::unordered_map<std::string_view, int32_t> vocab_str;
    vocab_str.reserve(vocab.size() * 2);
    int64_t max_id = -1;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      // (messages are built only on failure: this loop runs ~50k times)
      if (!it.value().is_number_integer())
        throw Error("tokenizer.json: model.vocab['" + it.key() + "'] is not an integer id");
      int64_t id = it.value().get<int64_t>();
      if (id < 0 || id >= (int64_t(1) << 30))
        throw Error("tokenizer.json: model.vocab id out of range: " + std::to_string(id));
      vocab_str.emplace(std::string_view(it.key()), static_cast<int32_t>(id));
      max_id = std::max(max_id, id);
    }
    m.id_bytes.assign(max_id + 1, std::string());
    m.id_known.assign(max_id + 1, false);
    for (const auto& [tok, id] : vocab_str) {
      bool pure = false;
      std::string bytes = to_bytes(std::string(tok), &pure);
      m.id_bytes[id] = bytes;
      m.id_known[id] = true;
      if (pure && m.ignore_merges) m.vocab_bytes.emplace(bytes, id);
    }
    for (int b = 0; b < 256; ++b) {
      std::string ch;
      uint32_t c = b2c[b];
      if (c < 0x80) ch.push_back(static_cast<char>(c));
      else { ch.push_back(static_cast<char>(0xC0 | (c >> 6))); ch.push_back(static_cast<char>(0x80 | (c & 0x3F))); }
      auto it = vocab_str.find(ch);
      m.byte_id[b] = it == vocab_str.end() ? -1 : it->second;
    }
    if (model.contains("unk_token") && model["unk_token"].is_string()) {
      auto it = vocab_str.find(model["unk_token"].get<std::string>());
      require(it != vocab_str.end(), "tokenizer.json: model.unk_token is not in the vocab");
      m.unk_id = it->second;
    }

    // ---- merges: "a b" strings (tokenizers < 0.20) or ["a", "b"] pairs (newer)
    const json& merges = need(model, "merges", "model.");
    require(merges.is_array(), "tokenizer.json: model.merges is not an array");
    m.merges.reserve(merges.size());
    int32_t rank = 0;
    std::string ab;
    for (const json& mj : merges) {
      std::string_view a, b;
      if (mj.is_string()) {
        std::string_view s = mj.get_ref<const std::string&>();
        size_t sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
          throw Error("tokenizer.json: merge " + std::to_string(rank + 1) + " is not of the form 'a b'");
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else if (mj.is_array() && mj.size() == 2 && mj[0].is_string() && mj[1].is_string()) {
        a = mj[0].get_ref<const std::string&>();
        b = mj[1].get_ref<const std::string&>();
      } else {
        throw Error("tokenizer.json: merge " + std::to_string(rank + 1) + " is neither 'a b' nor [a, b]");
      }
      ab.assign(a).append(b);
      auto ia = vocab_str.find(a), ib = vocab_str.find(b), iab = vocab_str.find(ab);
      if (ia == vocab_str.end() || ib == vocab_str.end() || iab == vocab_str.end())
        throw Error("tokenizer.json: merge " + std::to_string(rank + 1) + " uses a token missing from the vocab");
      m.merges.insert(ia->second, ib->second, MergeInfo{rank, iab->second});  // lowest rank wins
      ++rank;
    }

    // ---- added tokens, registered as tokenizers does when it reads the file: one by one, in
    // file order; a token whose content is already known (added before, or in the model vocab)
    // takes that id, any other gets the next free id from the model vocab's size on. The "id"
    // fields of the file are not used (tokenizers only warns when they disagree).
    if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
      const json& at = j["added_tokens"];
      require(at.is_array(), "tokenizer.json: added_tokens is not an array");
      const int64_t model_size = static_cast<int64_t>(vocab_str.size());
      std::unordered_map<std::string, int32_t> added_map;  // content -> id
      std::unordered_map<int32_t, size_t> index_of_id;     // id -> entry in m.added
      std::vector<AddedToken> special_list, classic_list;  // trie patterns, in tokenizers' order
      std::unordered_set<std::string> special_set;
      int64_t max_added = -1;
      for (const json& t : at) {
        require(t.is_object(), "tokenizer.json: an added token is not an object");
        const json& id = need(t, "id", "added_tokens[].");
        const json& content = need(t, "content", "added_tokens[].");
        require(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < (int64_t(1) << 30),
                "tokenizer.json: added token id is not a valid integer");
        require(content.is_string(), "tokenizer.json: added token content is not a string");
        AddedToken a;
        a.content = content.get<std::string>();
        a.special = flag(t, "special", false);
        a.single_word = flag(t, "single_word", false);
        a.lstrip = flag(t, "lstrip", false);
        a.rstrip = flag(t, "rstrip", false);
        a.normalized = flag(t, "normalized", !a.special);
        if (a.special && !a.content.empty() && special_set.insert(a.content).second) special_list.push_back(a);
        if (a.content.empty()) continue;
        bool dup = false;
        for (const AddedToken& e : m.added) dup = dup || e.same_as(a);
        if (dup) continue;
        if (auto it = added_map.find(a.content); it != added_map.end()) {
          a.id = it->second;
        } else if (auto iv = vocab_str.find(a.content); iv != vocab_str.end()) {
          a.id = iv->second;
        } else {
          int64_t nid = max_added < 0 ? model_size
                        : (max_added >= model_size || model_size == 0) ? max_added + 1 : model_size;
          require(nid < (int64_t(1) << 30), "tokenizer.json: too many added tokens");
          a.id = static_cast<int32_t>(nid);
        }
        added_map[a.content] = a.id;
        max_added = std::max<int64_t>(max_added, a.id);
        if (auto ix = index_of_id.find(a.id); ix != index_of_id.end()) {
          m.added[ix->second] = a;
        } else {
          index_of_id[a.id] = m.added.size();
          m.added.push_back(a);
        }
        if (!special_set.count(a.content)) classic_list.push_back(a);
      }
      for (const std::vector<AddedToken>* list : {&special_list, &classic_list}) {
        for (const AddedToken& a : *list) {
          auto it = added_map.find(a.content);
          if (it == added_map.end()) continue;
          auto ix = index_of_id.find(it->second);
          if (ix == index_of_id.end()) continue;
          std::string pattern = a.normalized && m.use_nfc ? nfc(a.content) : a.content;
          if (pattern.empty()) continue;
          (a.normalized ? m.norm_trie : m.raw_trie).insert(pattern, static_cast<int32_t>(ix->second));
        }
      }
      for (const AddedToken& a : m.added) max_id = std::max<int64_t>(max_id, a.id);
      m.id_bytes.resize(max_id + 1);
      m.id_known.resize(max_id + 1, false);
      for (const AddedToken& a : m.added) {  // added tokens decode by content, before the model
        m.id_bytes[a.id] = to_bytes(a.content, nullptr);
        m.id_known[a.id] = true;
      }
    }
  } catch (const json::exception& e) {
    throw Error(std::string("tokenizer.json: unexpected structure: ") + e.what());
  }

  m.compile_regex();
  Tokenizer t;
  t.impl_ = std::move(impl);
  return t;
}

std::vector<int64_t> Tokenizer::encode(std::string_view text) const {
  require(impl_ != nullptr, "tokenizer not loaded");
  const Impl& m = *impl_;
  validate_utf8(std::string(text), "text");
  std::vector<int64_t> out;
  out.reserve(text.size() / 3 + 16);
  std::vector<Piece> raw_pieces, pieces;
  m.split_added(std::string(text), m.raw_trie, raw_pieces);
  for (Piece& p : raw_pieces) {
    if (p.id >= 0) { pieces.push_back(std::move(p)); continue; }
    std::string normed = m.use_nfc ? nfc(p.text) : std::move(p.text);
    m.split_added(normed, m.norm_trie, pieces);
  }
  for (const Piece& p : pieces) {
    if (p.id >= 0) { out.push_back(p.id); continue; }
    if (p.text.empty()) continue;
    if (m.add_prefix_space && p.text[0] != ' ') {
      m.pretokenize_and_encode(" " + p.text, out);
    } else {
      m.pretokenize_and_encode(p.text, out);
    }
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
  require(impl_ != nullptr, "tokenizer not loaded");
  const Impl& m = *impl_;
  std::string bytes;
  for (int64_t id : ids) {
    // tokenizers skips ids it does not know (e.g. the model's padded rows 50277..50303)
    if (id < 0 || id >= static_cast<int64_t>(m.id_bytes.size()) || !m.id_known[id]) continue;
    bytes += m.id_bytes[id];
  }
  // UTF-8 with each maximal invalid subsequence replaced by U+FFFD (Rust's from_utf8_lossy)
  std::string out;
  out.reserve(bytes.size());
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size(), i = 0;
  static const char kRepl[] = "\xEF\xBF\xBD";
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) { out.push_back(static_cast<char>(c)); ++i; continue; }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    if (len == 0) { out += kRepl; ++i; continue; }
    size_t k = 1;
    for (; k < len && i + k < n; ++k) {
      unsigned char cc = p[i + k];
      unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
      if (cc < l || cc > h) break;
    }
    if (k == len) out.append(reinterpret_cast<const char*>(p + i), len);
    else out += kRepl;
    i += k;
  }
  return out;
}

int64_t Tokenizer::vocab_size() const {
  require(impl_ != nullptr, "tokenizer not loaded");
  return static_cast<int64_t>(impl_->id_bytes.size());
}

}  // namespace headscope
