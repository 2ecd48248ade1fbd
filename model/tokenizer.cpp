// The pipeline of tokenizers' Tokenizer::encode_single_sequence, step by step:
//   1. added tokens with normalized=false are split out of the raw text (leftmost-longest);
//   2. each remaining piece is normalised, then the added tokens with normalized=true are split out
//      of it (their patterns normalised the same way), honouring single_word / lstrip / rstrip;
//   3. each remaining piece is pre-tokenised into words;
//   4. each word is encoded by the BPE model;
//   5. the post-processor's special tokens are put around the ids.
// Decoding maps ids to token strings (added tokens by content) and runs the decoder chain.
#include "model/tokenizer.h"

#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/text.h"
#include "model/tokenizer/added_vocabulary.h"
#include "model/tokenizer/bpe.h"
#include "model/tokenizer/decoder.h"
#include "model/tokenizer/normalizer.h"
#include "model/tokenizer/post_processor.h"
#include "model/tokenizer/pre_tokenizer.h"
#include "model/tokenizer/unicode.h"

namespace headscope {

using json = nlohmann::json;
using namespace tok;

struct Tokenizer::Impl {
  Normalizer norm;
  PreTokenizer pre;
  Bpe bpe;
  AddedVocabulary added;
  PostProcessor post;
  Decoder dec;
  std::vector<std::string> token_of_id;
  std::vector<uint8_t> id_known, id_special;
  std::string model_desc;
  // streaming cuts (see encode_prefix), worked out on first use
  mutable std::once_flag cuts_once;
  mutable std::vector<uint8_t> cut_ok;  // [kind][x][y]: kind 0 "x\ny", kind 1 "x\n y"

  // Runs steps 1-3 over `text` and hands each added-token id (word empty) or word (id -1) to f.
  // continued: text continues a piece begun earlier (streaming), so it is not at the original
  // text's start and the piece-start prefixes (Prepend, add_prefix_space, Metaspace) do not apply.
  template <class F>
  void segment(std::string_view text, bool continued, F&& f) const {
    std::vector<Span> raw, ns;
    std::vector<std::string> words;
    added.split(text, false, raw);
    for (const Span& sp : raw) {
      if (sp.id >= 0) { f(sp.id, std::string_view()); continue; }
      std::string piece(text.substr(sp.begin, sp.end - sp.begin));
      const bool cont = continued && sp.begin == 0;
      norm.normalize(piece, cont);
      ns.clear();
      added.split(piece, true, ns);
      for (const Span& n : ns) {
        if (n.id >= 0) { f(n.id, std::string_view()); continue; }
        PreToken p;
        p.text = piece.substr(n.begin, n.end - n.begin);
        p.at_origin = !continued && sp.begin == 0 && n.begin == 0;
        p.continued = cont && n.begin == 0;
        words.clear();
        pre.split(std::move(p), words);
        for (const std::string& w : words) f(-1, std::string_view(w));
      }
    }
  }

  void encode_body(std::string_view text, bool continued, std::vector<int64_t>& out) const {
    segment(text, continued, [&](int64_t id, std::string_view w) {
      if (id >= 0) out.push_back(id);
      else bpe.encode_word(w, out);
    });
  }

  // Items (added-token ids and words) of a text, for the cut probe.
  std::vector<std::pair<int64_t, std::string>> items(std::string_view text, bool continued) const {
    std::vector<std::pair<int64_t, std::string>> r;
    segment(text, continued, [&](int64_t id, std::string_view w) { r.emplace_back(id, std::string(w)); });
    return r;
  }

  // Is encoding a + b the same as encoding a, then b as a continuation? Either the items agree,
  // or the word across the cut is the two sides' words joined and BPE can never merge across.
  bool cut_agrees(const std::string& a, const std::string& b) const {
    auto whole = items(a + b, false), left = items(a, false), right = items(b, true);
    if (left.empty() || right.empty()) return false;
    auto joined = left;
    joined.insert(joined.end(), right.begin(), right.end());
    if (whole == joined) return true;
    auto& l = left.back();
    auto& r = right.front();
    if (l.first >= 0 || r.first >= 0 || l.second.empty() || r.second.empty()) return false;
    std::vector<std::pair<int64_t, std::string>> merged(left.begin(), left.end() - 1);
    merged.emplace_back(-1, l.second + r.second);
    merged.insert(merged.end(), right.begin() + 1, right.end());
    if (whole != merged) return false;
    return bpe.never_merged(prev_cp(l.second, l.second.size()), [&] {
      size_t i = 0;
      return next_cp(r.second, i);
    }());
  }

  void compute_cuts() const {
    cut_ok.assign(2 * 128 * 128, 0);
    if (!norm.newline_cut_safe()) return;
    static const char* lefts[] = {"Hello, world", "x 42  "};
    static const char* rights[] = {"he end", "1 b."};
    for (int kind = 0; kind < 2; ++kind)
      for (int x = 0x09; x < 0x7F; ++x) {
        if (x == '\r' || (x > '\n' && x < ' ')) continue;
        for (int y = 'A'; y <= 'z'; ++y) {
          if (y > 'Z' && y < 'a') continue;
          if (!added.newline_cut_safe(static_cast<unsigned char>(x), kind ? ' ' : static_cast<unsigned char>(y)))
            continue;
          bool ok = true;
          for (const char* l : lefts)
            for (const char* r : rights) {
              if (!ok) break;
              std::string a = std::string(l) + char(x) + "\n";
              std::string b = (kind ? std::string(" ") : std::string()) + char(y) + r;
              ok = cut_agrees(a, b);
            }
          cut_ok[(kind * 128 + x) * 128 + y] = ok;
        }
      }
  }

  // Last safe cut in s at or before `limit` (an offset p with s[p-1] == '\n'), or 0.
  size_t last_cut(const std::string& s, size_t limit) const {
    std::call_once(cuts_once, [&] { compute_cuts(); });
    for (size_t p = std::min(limit, s.size() >= 2 ? s.size() - 2 : 0); p >= 2; --p) {
      if (s[p - 1] != '\n') continue;
      auto x = static_cast<unsigned char>(s[p - 2]);
      auto y = static_cast<unsigned char>(s[p]);
      if (x >= 128) continue;
      if (y < 128 && cut_ok[(0 * 128 + x) * 128 + y]) return p;
      auto y2 = static_cast<unsigned char>(s[p + 1]);
      if (y == ' ' && y2 < 128 && cut_ok[(1 * 128 + x) * 128 + y2]) return p;
    }
    return 0;
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
  const std::string config_path = (fs::path(path).parent_path() / "tokenizer_config.json").string();
  auto parse = [](const std::string& p) {
    try {
      json j = json::parse(read_file(p));
      if (!j.is_object()) throw Error(p + " is not a JSON object");
      return j;
    } catch (const json::exception& e) {
      throw Error(p + " is not valid JSON: " + e.what());
    }
  };
  json j = parse(path);
  json config = fs::exists(config_path, ec) ? parse(config_path) : json();

  auto impl = std::make_unique<Impl>();
  Impl& m = *impl;
  try {
    if (j.contains("truncation") && !j["truncation"].is_null())
      throw Error("tokenizer.json: truncation is set; headscope does not truncate inside the tokenizer");
    if (j.contains("padding") && j["padding"].is_object() && j["padding"].contains("strategy") &&
        j["padding"]["strategy"].is_object())
      throw Error("tokenizer.json: fixed-length padding is not supported");
    m.norm = Normalizer::from_json(j.value("normalizer", json()));
    m.pre = PreTokenizer::from_json(j.value("pre_tokenizer", json()));
    if (!j.contains("model")) throw Error("tokenizer.json: missing model");
    m.bpe = Bpe::from_json(j["model"]);
    m.added = AddedVocabulary::from_json(j.value("added_tokens", json()), m.bpe, m.norm);
    m.dec = Decoder::from_json(j.value("decoder", json()));

    // id -> token string: added tokens first (tokenizers' simple_id_to_token), then the model
    int64_t max_id = static_cast<int64_t>(m.bpe.id_to_token().size()) - 1;
    for (const AddedToken& a : m.added.tokens()) max_id = std::max<int64_t>(max_id, a.id);
    m.token_of_id.assign(max_id + 1, std::string());
    m.id_known.assign(max_id + 1, 0);
    m.id_special.assign(max_id + 1, 0);
    for (const auto& [t, id] : m.bpe.vocab()) { m.token_of_id[id] = t; m.id_known[id] = 1; }
    // A normalized added token's string is its normalised content (tokenizers 0.23 decodes
    // Llama-2's normalized "<s>" as "▁<s>"), and skip_special compares token strings with the
    // special tokens' contents, so such a token is not skipped: both as the library does.
    std::unordered_set<std::string> special_contents;
    for (const AddedToken& a : m.added.tokens())
      if (a.special) special_contents.insert(a.content);
    for (const AddedToken& a : m.added.tokens()) {
      std::string s = a.content;
      if (a.normalized) m.norm.normalize(s);
      m.token_of_id[a.id] = s;
      m.id_known[a.id] = 1;
    }
    for (size_t id = 0; id < m.token_of_id.size(); ++id)
      m.id_special[id] = m.id_known[id] && special_contents.count(m.token_of_id[id]);
    auto id_of = [&](const std::string& content) -> int64_t {
      int64_t id = m.added.id_of(content);
      return id >= 0 ? id : m.bpe.find(content);
    };
    auto known = [&](int64_t id) { return id >= 0 && id <= max_id && m.id_known[id]; };
    m.post = PostProcessor::from_json(j.value("post_processor", json()), config, id_of, known);
    const json& model = j["model"];
    m.model_desc = "BPE";
    for (const char* k : {"byte_fallback", "fuse_unk", "ignore_merges"})
      if (model.value(k, json(false)) == json(true)) m.model_desc += std::string(" ") + k;
  } catch (const json::exception& e) {
    throw Error(std::string("tokenizer.json: unexpected structure: ") + e.what());
  }
  Tokenizer t;
  t.impl_ = std::move(impl);
  return t;
}

std::vector<int64_t> Tokenizer::encode(std::string_view text, bool add_special) const {
  require(impl_ != nullptr, "tokenizer not loaded");
  const Impl& m = *impl_;
  if (!is_valid_utf8(text)) validate_utf8(std::string(text), "text");  // throws, naming the offset
  std::vector<int64_t> out;
  out.reserve(text.size() / 3 + 16);
  if (add_special) out = m.post.prefix;
  m.encode_body(text, false, out);
  if (add_special) out.insert(out.end(), m.post.suffix.begin(), m.post.suffix.end());
  return out;
}

std::vector<int64_t> Tokenizer::encode_prefix(const std::function<bool(std::string&)>& next, int64_t max_tokens,
                                              bool add_special, PrefixStats* stats) const {
  require(impl_ != nullptr, "tokenizer not loaded");
  require(max_tokens > 0, "encode_prefix: max_tokens must be positive");
  const Impl& m = *impl_;
  std::vector<int64_t> out;
  if (add_special) out = m.post.prefix;
  PrefixStats st;
  std::string buf;
  size_t want = 1 << 16;  // bytes to hold before looking for a cut; doubles when none is found
  bool eof = false, first = true;
  while (static_cast<int64_t>(out.size()) < max_tokens) {
    while (!eof && buf.size() < want) {
      size_t before = buf.size();
      if (!next(buf)) eof = true;
      st.bytes_read += static_cast<int64_t>(buf.size() - before);
    }
    // encode at most about `want` bytes at a time, so reading stops soon after max_tokens
    size_t cut = eof && buf.size() <= want ? buf.size() : m.last_cut(buf, want);
    if (cut == 0 && eof) cut = buf.size();
    if (cut == 0 && !eof) { want *= 2; continue; }
    std::string_view chunk(buf.data(), cut);
    if (!is_valid_utf8(chunk)) {
      try {
        validate_utf8(std::string(chunk), "text");
      } catch (const Error& e) {
        throw Error(std::string(e.what()) + " (counting from byte " + std::to_string(st.bytes_encoded) + ")");
      }
    }
    m.encode_body(chunk, !first, out);
    first = false;
    st.bytes_encoded += static_cast<int64_t>(cut);
    buf.erase(0, cut);
    want = std::max<size_t>(want, 1 << 16);
    if (eof && buf.empty()) {
      if (add_special) out.insert(out.end(), m.post.suffix.begin(), m.post.suffix.end());
      st.exhausted = true;
      break;
    }
  }
  if (static_cast<int64_t>(out.size()) > max_tokens) out.resize(static_cast<size_t>(max_tokens));
  if (stats) *stats = st;
  return out;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  require(impl_ != nullptr, "tokenizer not loaded");
  const Impl& m = *impl_;
  std::vector<std::string> toks;
  toks.reserve(ids.size());
  for (int64_t id : ids) {
    if (id < 0 || id >= static_cast<int64_t>(m.token_of_id.size()) || !m.id_known[id]) continue;
    if (skip_special && m.id_special[id]) continue;
    toks.push_back(m.token_of_id[id]);
  }
  return m.dec.decode(std::move(toks));
}

int64_t Tokenizer::vocab_size() const {
  require(impl_ != nullptr, "tokenizer not loaded");
  return static_cast<int64_t>(impl_->token_of_id.size());
}

const std::vector<int64_t>& Tokenizer::special_prefix() const { return impl_->post.prefix; }
const std::vector<int64_t>& Tokenizer::special_suffix() const { return impl_->post.suffix; }

std::string Tokenizer::id_to_token(int64_t id) const {
  const Impl& m = *impl_;
  if (id < 0 || id >= static_cast<int64_t>(m.token_of_id.size()) || !m.id_known[id]) return "";
  return m.token_of_id[id];
}

std::string Tokenizer::describe_bos() const {
  const Impl& m = *impl_;
  if (m.post.prefix.empty()) return "no BOS";
  std::string r = "BOS";
  for (size_t k = 0; k < m.post.prefix.size(); ++k)
    r += " " + m.post.prefix_tokens[k] + " (id " + std::to_string(m.post.prefix[k]) + ")";
  return r + " from " + m.post.source;
}

std::string Tokenizer::describe() const {
  const Impl& m = *impl_;
  return "normalizer " + m.norm.describe() + ", pre-tokenizer " + m.pre.describe() + ", " + m.model_desc +
         ", " + std::to_string(m.added.tokens().size()) + " added tokens, decoder " + m.dec.describe();
}

}  // namespace headscope
