#include "model/tokenizer/bpe.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <queue>

#include "common/error.h"
#include "model/tokenizer/unicode.h"

namespace headscope::tok {

using json = nlohmann::json;

Bpe::Bpe(Bpe&& o) noexcept { *this = std::move(o); }
Bpe& Bpe::operator=(Bpe&& o) noexcept {
  vocab_ = std::move(o.vocab_);
  id_to_token_ = std::move(o.id_to_token_);
  merge_slots_ = std::move(o.merge_slots_);
  merge_mask_ = o.merge_mask_;
  char_id_ = std::move(o.char_id_);
  char_id_bmp_ = std::move(o.char_id_bmp_);
  pairs_ = std::move(o.pairs_);
  merge_left_ = std::move(o.merge_left_);
  merge_right_ = std::move(o.merge_right_);
  std::copy(o.byte_id_, o.byte_id_ + 256, byte_id_);
  byte_fallback_ = o.byte_fallback_;
  fuse_unk_ = o.fuse_unk_;
  ignore_merges_ = o.ignore_merges_;
  unk_id_ = o.unk_id_;
  prefix_ = std::move(o.prefix_);
  suffix_ = std::move(o.suffix_);
  cache_ = std::move(o.cache_);
  return *this;
}

Bpe Bpe::from_json(const json& model) {
  if (!model.is_object()) throw Error("tokenizer.json: model is not an object");
  const std::string mt = model.value("type", std::string("BPE"));
  if (mt != "BPE") throw Error("tokenizer.json: unsupported model type '" + mt + "' (only BPE)");
  Bpe m;
  auto str_opt = [&](const char* k) -> std::string {
    auto it = model.find(k);
    if (it == model.end() || it->is_null()) return "";
    if (!it->is_string()) throw Error(std::string("tokenizer.json: model.") + k + " is not a string");
    return it->get<std::string>();
  };
  auto flag = [&](const char* k) {
    auto it = model.find(k);
    if (it == model.end() || it->is_null()) return false;
    if (!it->is_boolean()) throw Error(std::string("tokenizer.json: model.") + k + " is not a boolean");
    return it->get<bool>();
  };
  if (auto it = model.find("dropout"); it != model.end() && !it->is_null() &&
                                       !(it->is_number() && it->get<double>() == 0.0))
    throw Error("tokenizer.json: BPE dropout is not supported (it makes encoding random)");
  m.prefix_ = str_opt("continuing_subword_prefix");
  m.suffix_ = str_opt("end_of_word_suffix");
  m.byte_fallback_ = flag("byte_fallback");
  m.fuse_unk_ = flag("fuse_unk");
  m.ignore_merges_ = flag("ignore_merges");

  if (!model.contains("vocab")) throw Error("tokenizer.json: missing model.vocab");
  if (!model.contains("merges")) throw Error("tokenizer.json: missing model.merges");
  const json& vocab = model["vocab"];
  if (!vocab.is_object()) throw Error("tokenizer.json: model.vocab is not an object");
  if (vocab.empty()) throw Error("tokenizer.json: model.vocab is empty");
  m.vocab_.reserve(vocab.size() * 2);
  int64_t max_id = -1;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer())
      throw Error("tokenizer.json: model.vocab['" + it.key() + "'] is not an integer id");
    int64_t id = it.value().get<int64_t>();
    if (id < 0 || id >= (int64_t(1) << 30))
      throw Error("tokenizer.json: model.vocab id out of range: " + std::to_string(id));
    m.vocab_[it.key()] = static_cast<int32_t>(id);
    max_id = std::max(max_id, id);
  }
  m.id_to_token_.assign(max_id + 1, std::string());
  for (const auto& [tok, id] : m.vocab_) {
    m.id_to_token_[id] = tok;
    size_t i = 0;
    uint32_t prev = next_cp(tok, i);
    if (i == tok.size()) m.char_id_[prev] = id;
    while (i < tok.size()) {
      uint32_t c = next_cp(tok, i);
      m.pairs_.insert(key(prev, c));
      prev = c;
    }
  }
  m.char_id_bmp_.assign(0x10000, -1);
  for (const auto& [c, id] : m.char_id_)
    if (c < 0x10000) m.char_id_bmp_[c] = id;
  std::fill(m.byte_id_, m.byte_id_ + 256, -1);
  if (m.byte_fallback_) {
    // All 256 <0xNN> tokens, or none: with none (TinyStories-656K's real file) the fallback never
    // succeeds and unknown characters become unk, as in tokenizers; a partial set is an error.
    int present = 0;
    std::string missing;
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      auto it = m.vocab_.find(name);
      if (it != m.vocab_.end()) {
        m.byte_id_[b] = it->second;
        ++present;
      } else if (missing.empty()) {
        missing = name;
      }
    }
    if (present == 0) m.byte_fallback_ = false;
    else if (present < 256)
      throw Error("tokenizer.json: model.byte_fallback is set but the vocab has no " + missing + " token (" +
                  std::to_string(present) + " of the 256 byte tokens)");
  }
  const std::string unk = str_opt("unk_token");
  if (!unk.empty()) {
    auto it = m.vocab_.find(unk);
    if (it == m.vocab_.end()) throw Error("tokenizer.json: model.unk_token '" + unk + "' is not in the vocab");
    m.unk_id_ = it->second;
  }

  // merges: "a b" strings (tokenizers < 0.20) or ["a", "b"] pairs (newer). A repeated pair keeps
  // its last rank, as tokenizers' HashMap collect does.
  const json& merges = model["merges"];
  if (!merges.is_array()) throw Error("tokenizer.json: model.merges is not an array");
  size_t cap = 16;
  while (cap < 2 * merges.size()) cap <<= 1;
  m.merge_slots_.assign(cap, Slot{~uint64_t(0), {0, 0}});
  m.merge_mask_ = cap - 1;
  int32_t rank = 0;  // messages count merges from 1
  std::string ab;
  for (const json& mj : merges) {
    std::string a, b;
    if (mj.is_string()) {
      const std::string& s = mj.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      if (sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos) {
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else {
        // Tokens holding spaces (some converted Llama-2 files have " " and "  "): the separator
        // is the one space that leaves two tokens whose concatenation is a token too.
        int found = 0;
        for (size_t k = s.find(' '); k != std::string::npos; k = s.find(' ', k + 1)) {
          std::string x = s.substr(0, k), y = s.substr(k + 1);
          if (!x.empty() && !y.empty() && m.vocab_.count(x) && m.vocab_.count(y) && m.vocab_.count(x + y)) {
            a = x;
            b = y;
            ++found;
          }
        }
        if (found != 1)
          throw Error("tokenizer.json: merge " + std::to_string(rank + 1) + " (" + s + ") is not of the form 'a b'");
      }
    } else if (mj.is_array() && mj.size() == 2 && mj[0].is_string() && mj[1].is_string()) {
      a = mj[0].get<std::string>();
      b = mj[1].get<std::string>();
    } else {
      throw Error("tokenizer.json: merge " + std::to_string(rank + 1) + " is neither 'a b' nor [a, b]");
    }
    auto ia = m.vocab_.find(a), ib = m.vocab_.find(b);
    if (ia == m.vocab_.end() || ib == m.vocab_.end())
      throw Error("tokenizer.json: merge " + std::to_string(rank + 1) + " (" + a + " " + b + ") names '" +
                  (ia == m.vocab_.end() ? a : b) + "', which is not in the vocab");
    ab = a;
    ab.append(b, std::min(m.prefix_.size(), b.size()), std::string::npos);
    auto iab = m.vocab_.find(ab);
    if (iab == m.vocab_.end())
      throw Error("tokenizer.json: merge " + std::to_string(rank + 1) + " (" + a + " " + b + ") makes '" + ab +
                  "', which is not in the vocab");
    m.put_merge(ia->second, ib->second, Merge{rank, iab->second});
    m.merge_left_.insert(ia->second);
    m.merge_right_.insert(ib->second);
    ++rank;
  }
  return m;
}

namespace {
size_t hash64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  return static_cast<size_t>(k);
}
}  // namespace

void Bpe::put_merge(int32_t a, int32_t b, Merge mg) {  // a repeated pair takes the later rank
  uint64_t k = key(uint32_t(a), uint32_t(b));
  for (size_t i = hash64(k) & merge_mask_;; i = (i + 1) & merge_mask_) {
    if (merge_slots_[i].key == k || merge_slots_[i].key == ~uint64_t(0)) {
      merge_slots_[i] = Slot{k, mg};
      return;
    }
  }
}

const Bpe::Merge* Bpe::find_merge(int32_t a, int32_t b) const {
  uint64_t k = key(uint32_t(a), uint32_t(b));
  for (size_t i = hash64(k) & merge_mask_;; i = (i + 1) & merge_mask_) {
    if (merge_slots_[i].key == k) return &merge_slots_[i].m;
    if (merge_slots_[i].key == ~uint64_t(0)) return nullptr;
  }
}

int64_t Bpe::find(const std::string& token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

bool Bpe::never_merged(uint32_t a, uint32_t b) const {
  if (!prefix_.empty() || !suffix_.empty()) return false;
  const bool ka = char_id_.count(a) > 0, kb = char_id_.count(b) > 0;
  if (ka && kb) return !pairs_.count(key(a, b));
  if (!byte_fallback_) return false;  // unknown characters become (fused) unk tokens
  // an unknown character becomes byte tokens: a merge across needs that byte token on its side
  std::string sa, sb;
  append_utf8(sa, a);
  append_utf8(sb, b);
  const bool left_free = !ka && !merge_left_.count(byte_id_[static_cast<unsigned char>(sa.back())]);
  const bool right_free = !kb && !merge_right_.count(byte_id_[static_cast<unsigned char>(sb.front())]);
  return left_free || right_free;
}

// tokenizers' BPE::merge_word followed by Word::merge_all.
void Bpe::merge_word(std::string_view w, std::vector<int32_t>& out) const {
  struct Sym { int32_t id; int32_t prev, next; int32_t len; };
  std::vector<Sym> sym;
  sym.reserve(w.size());
  auto add = [&](int32_t id, int32_t len) {
    int32_t k = static_cast<int32_t>(sym.size());
    sym.push_back({id, k - 1, k + 1, len});
  };
  int32_t unk_pending = -1, unk_len = 0;
  std::string s;
  size_t i = 0;
  while (i < w.size()) {
    size_t b = i;
    uint32_t c = next_cp(w, i);
    const bool first = b == 0, last = i == w.size();
    const int32_t byte_len = static_cast<int32_t>(i - b);
    int32_t id = -1;
    if ((first || prefix_.empty()) && (!last || suffix_.empty())) {
      if (c < 0x10000) {
        id = char_id_bmp_[c];
      } else {
        auto it = char_id_.find(c);
        if (it != char_id_.end()) id = it->second;
      }
      if (id < 0) s.assign(w.substr(b, i - b));
    } else {
      s.clear();
      if (!first) s += prefix_;
      s.append(w.substr(b, i - b));
      if (last) s += suffix_;
      auto it = vocab_.find(s);
      if (it != vocab_.end()) id = it->second;
    }
    if (id >= 0) {
      if (unk_pending >= 0) { add(unk_pending, unk_len); unk_pending = -1; }
      add(id, byte_len);
      continue;
    }
    if (byte_fallback_) {  // (a pending unk is not flushed first, as in tokenizers)
      for (unsigned char ch : s) add(byte_id_[ch], 1);
      continue;
    }
    if (unk_id_ >= 0) {
      if (unk_pending >= 0 && fuse_unk_) { unk_len += byte_len; continue; }
      if (unk_pending >= 0) add(unk_pending, unk_len);
      unk_pending = unk_id_;
      unk_len = byte_len;
    }
  }
  if (unk_pending >= 0) add(unk_pending, unk_len);
  if (sym.empty()) return;
  sym.back().next = -1;

  struct Cand {
    int32_t rank, pos, new_id;
    bool operator<(const Cand& o) const {  // max-heap pops the lowest rank, then lowest pos
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  auto lookup = [&](int32_t a, int32_t b) { return find_merge(a, b); };
  std::vector<Cand> heap;
  heap.reserve(sym.size());
  for (size_t k = 0; k + 1 < sym.size(); ++k)
    if (const Merge* m = lookup(sym[k].id, sym[k + 1].id)) heap.push_back({m->rank, int32_t(k), m->new_id});
  std::priority_queue<Cand> q(std::less<Cand>(), std::move(heap));
  while (!q.empty()) {
    Cand top = q.top();
    q.pop();
    Sym& cur = sym[top.pos];
    if (cur.len == 0 || cur.next < 0) continue;
    const int32_t next_pos = cur.next;
    Sym right = sym[next_pos];
    const Merge* m = lookup(cur.id, right.id);
    if (!m || m->new_id != top.new_id) continue;  // stale entry
    cur.id = top.new_id;
    cur.len += right.len;
    cur.next = right.next;
    sym[next_pos].len = 0;
    if (right.next >= 0) sym[right.next].prev = top.pos;
    if (cur.prev >= 0)
      if (const Merge* pm = lookup(sym[cur.prev].id, cur.id)) q.push({pm->rank, cur.prev, pm->new_id});
    if (cur.next >= 0)
      if (const Merge* nm = lookup(cur.id, sym[cur.next].id)) q.push({nm->rank, top.pos, nm->new_id});
  }
  for (const Sym& x : sym)
    if (x.len != 0) out.push_back(x.id);
}

void Bpe::encode_chunk(std::string_view w, std::vector<int64_t>& out) const {
  constexpr size_t kMaxCacheEntries = 200000;
  constexpr size_t kMaxCachedLength = 256;
  const bool cacheable = w.size() <= kMaxCachedLength;
  std::string key_s;
  if (cacheable) {
    key_s.assign(w);
    std::lock_guard<std::mutex> lk(cache_mu_);
    auto it = cache_.find(key_s);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  merge_word(w, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  if (!cacheable) return;
  std::lock_guard<std::mutex> lk(cache_mu_);
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_.emplace(std::move(key_s), std::move(ids));
}

void Bpe::encode_word(std::string_view w, std::vector<int64_t>& out) const {
  if (w.empty()) return;
  if (ignore_merges_) {
    auto it = vocab_.find(std::string(w));
    if (it != vocab_.end()) { out.push_back(it->second); return; }
  }
  // Long words (a whole text without a pre-tokenizer, as Llama-2's) are cut where no merge can
  // ever join the two sides (see never_merged): the ids are the same, and the pieces can be cached.
  if (w.size() <= 64 || !prefix_.empty() || !suffix_.empty()) { encode_chunk(w, out); return; }
  size_t start = 0, i = 0;
  uint32_t prev = next_cp(w, i);
  while (i < w.size()) {
    size_t b = i;
    uint32_t c = next_cp(w, i);
    if (never_merged(prev, c)) {
      encode_chunk(w.substr(start, b - start), out);
      start = b;
    }
    prev = c;
  }
  encode_chunk(w.substr(start), out);
}

}  // namespace headscope::tok
