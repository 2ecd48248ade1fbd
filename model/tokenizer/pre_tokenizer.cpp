#include "model/tokenizer/pre_tokenizer.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "model/tokenizer/regex.h"
#include "model/tokenizer/unicode.h"

namespace headscope::tok {

using json = nlohmann::json;

namespace {

// GPT-2's pattern, used by ByteLevel with use_regex (tokenizers' ByteLevel RE).
constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const json& j) {
  const std::string b = j.is_string() ? j.get<std::string>() : "";
  if (b == "Removed") return Behavior::Removed;
  if (b == "Isolated") return Behavior::Isolated;
  if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::MergedWithNext;
  if (b == "Contiguous") return Behavior::Contiguous;
  throw Error("tokenizer.json: unsupported Split behavior '" + b + "'");
}

struct Seg {
  size_t b, e;
  bool match;
};

// tokenizers' NormalizedString::split: the match/gap segments regrouped by the behaviour; empty
// results are dropped by the caller.
std::vector<Seg> apply_behavior(std::vector<Seg> segs, Behavior beh) {
  std::vector<Seg> acc;
  acc.reserve(segs.size());
  bool prev = false;
  switch (beh) {
    case Behavior::Isolated:
      return segs;
    case Behavior::Removed:
      for (const Seg& s : segs)
        if (!s.match) acc.push_back(s);
      return acc;
    case Behavior::MergedWithPrevious:
      for (const Seg& s : segs) {
        if (s.match && !prev) {
          if (!acc.empty()) acc.back().e = s.e;
          else acc.push_back({s.b, s.e, true});
        } else {
          acc.push_back({s.b, s.e, false});
        }
        prev = s.match;
      }
      return acc;
    case Behavior::MergedWithNext:
      for (size_t k = segs.size(); k-- > 0;) {
        const Seg& s = segs[k];
        if (s.match && !prev) {
          if (!acc.empty()) acc.back().b = s.b;
          else acc.push_back({s.b, s.e, true});
        } else {
          acc.push_back({s.b, s.e, false});
        }
        prev = s.match;
      }
      std::reverse(acc.begin(), acc.end());
      return acc;
    case Behavior::Contiguous:
      for (const Seg& s : segs) {
        if (s.match == prev && !acc.empty()) acc.back().e = s.e;
        else acc.push_back({s.b, s.e, s.match});
        prev = s.match;
      }
      return acc;
  }
  return segs;
}

// Matches and the gaps between them, covering s (tokenizers' Pattern::find_matches).
std::vector<Seg> segments(std::string_view s, const std::vector<std::pair<size_t, size_t>>& m) {
  std::vector<Seg> segs;
  segs.reserve(2 * m.size() + 1);
  size_t prev = 0;
  for (auto [b, e] : m) {
    if (b > prev) segs.push_back({prev, b, false});
    segs.push_back({b, e, true});
    prev = e;
  }
  if (prev < s.size()) segs.push_back({prev, s.size(), false});
  return segs;
}

void emit(const PreToken& in, const std::vector<Seg>& segs, std::vector<PreToken>& out) {
  for (const Seg& s : segs) {
    if (s.e <= s.b) continue;
    PreToken p;
    p.text = in.text.substr(s.b, s.e - s.b);
    p.at_origin = in.at_origin && s.b == 0;
    p.continued = in.continued && s.b == 0;
    out.push_back(std::move(p));
  }
}

}  // namespace

struct PreTokenizer::Step {
  virtual ~Step() = default;
  virtual void run(std::vector<PreToken>& toks) const = 0;
  virtual std::string name() const = 0;
};

namespace {

struct RegexSplit : PreTokenizer::Step {
  std::unique_ptr<Regex> re;
  std::string literal;  // String pattern (when re is null)
  Behavior beh = Behavior::Isolated;
  bool invert = false;
  std::string label;
  void matches(std::string_view s, std::vector<std::pair<size_t, size_t>>& m) const {
    if (re) { re->find_all(s, m); return; }
    for (size_t pos = 0, k; (k = s.find(literal, pos)) != std::string_view::npos; pos = k + literal.size())
      m.emplace_back(k, k + literal.size());
  }
  void run(std::vector<PreToken>& toks) const override {
    std::vector<PreToken> out;
    out.reserve(toks.size() * 2);
    std::vector<std::pair<size_t, size_t>> m;
    for (const PreToken& t : toks) {
      m.clear();
      matches(t.text, m);
      std::vector<Seg> segs = segments(t.text, m);
      if (invert)
        for (Seg& s : segs) s.match = !s.match;
      emit(t, apply_behavior(std::move(segs), beh), out);
    }
    toks.swap(out);
  }
  std::string name() const override { return label; }
};

struct ByteLevel : PreTokenizer::Step {
  bool add_prefix_space = false;
  std::unique_ptr<Regex> re;  // GPT-2's pattern when use_regex
  void run(std::vector<PreToken>& toks) const override {
    std::vector<PreToken> out;
    out.reserve(toks.size() * 2);
    std::vector<std::pair<size_t, size_t>> m;
    for (PreToken& t : toks) {
      if (add_prefix_space && !t.continued && (t.text.empty() || t.text[0] != ' ')) t.text.insert(0, " ");
      if (!re) { out.push_back(std::move(t)); continue; }
      m.clear();
      re->find_all(t.text, m);
      emit(t, segments(t.text, m), out);
    }
    const auto& map = byte_to_codepoint();
    for (PreToken& t : out) {
      std::string mapped(t.text.size() * 2, '\0');
      size_t n = 0;
      for (unsigned char c : t.text) {
        uint32_t cp = map[c];  // < 0x144: one or two bytes
        if (cp < 0x80) {
          mapped[n++] = static_cast<char>(cp);
        } else {
          mapped[n++] = static_cast<char>(0xC0 | (cp >> 6));
          mapped[n++] = static_cast<char>(0x80 | (cp & 0x3F));
        }
      }
      mapped.resize(n);
      t.text.swap(mapped);
    }
    toks.swap(out);
  }
  std::string name() const override { return "ByteLevel"; }
};

struct Metaspace : PreTokenizer::Step {
  std::string rep;
  enum Scheme { Always, First, Never } scheme = Always;
  bool split = true;
  void run(std::vector<PreToken>& toks) const override {
    std::vector<PreToken> out;
    out.reserve(toks.size());
    for (PreToken& t : toks) {
      std::string s;
      s.reserve(t.text.size() + rep.size() * 4);
      for (char c : t.text) {
        if (c == ' ') s += rep;
        else s.push_back(c);
      }
      bool starts = s.compare(0, rep.size(), rep) == 0;
      if (!t.continued && !starts &&
          (scheme == Always || (scheme == First && t.at_origin)))
        s.insert(0, rep);
      t.text.swap(s);
      if (!split) { out.push_back(std::move(t)); continue; }
      std::vector<std::pair<size_t, size_t>> m;
      for (size_t pos = 0, k; (k = t.text.find(rep, pos)) != std::string::npos; pos = k + rep.size())
        m.emplace_back(k, k + rep.size());
      emit(t, apply_behavior(segments(t.text, m), Behavior::MergedWithNext), out);
    }
    toks.swap(out);
  }
  std::string name() const override { return "Metaspace"; }
};

struct Digits : PreTokenizer::Step {
  bool individual = false;
  void run(std::vector<PreToken>& toks) const override {
    std::vector<PreToken> out;
    out.reserve(toks.size());
    std::vector<std::pair<size_t, size_t>> m;
    for (const PreToken& t : toks) {
      m.clear();
      for (size_t i = 0; i < t.text.size();) {
        size_t b = i;
        uint32_t c = next_cp(t.text, i);
        if (is_numeric(c)) m.emplace_back(b, i);
      }
      emit(t, apply_behavior(segments(t.text, m), individual ? Behavior::Isolated : Behavior::Contiguous), out);
    }
    toks.swap(out);
  }
  std::string name() const override { return "Digits"; }
};

}  // namespace

PreTokenizer::PreTokenizer() = default;
PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

void PreTokenizer::add(const json& j, PreTokenizer& p) {
  if (j.is_null()) return;
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    throw Error("tokenizer.json: a pre_tokenizer has no type");
  const std::string t = j["type"].get<std::string>();
  auto flag = [&](const char* k, bool d) {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) return d;
    if (!it->is_boolean()) throw Error("tokenizer.json: pre_tokenizer " + t + "." + k + " is not a boolean");
    return it->get<bool>();
  };
  if (t == "Sequence") {
    const json& list = j.value("pretokenizers", json());
    if (!list.is_array()) throw Error("tokenizer.json: pre_tokenizer Sequence has no 'pretokenizers' list");
    for (const json& n : list) add(n, p);
  } else if (t == "ByteLevel") {
    auto s = std::make_unique<ByteLevel>();
    s->add_prefix_space = flag("add_prefix_space", true);
    if (flag("use_regex", true)) s->re = std::make_unique<Regex>(kGpt2Pattern, "ByteLevel pre_tokenizer");
    p.steps_.push_back(std::move(s));
    p.byte_level_ = true;
  } else if (t == "Split") {
    auto s = std::make_unique<RegexSplit>();
    const json& pat = j.value("pattern", json());
    if (pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string()) {
      s->re = std::make_unique<Regex>(pat["Regex"].get<std::string>(), "tokenizer.json: pre_tokenizer Split");
      s->label = "Split(Regex)";
    } else if (pat.is_object() && pat.contains("String") && pat["String"].is_string()) {
      s->literal = pat["String"].get<std::string>();
      if (s->literal.empty()) throw Error("tokenizer.json: pre_tokenizer Split with an empty String pattern");
      s->label = "Split(String)";
    } else {
      throw Error("tokenizer.json: pre_tokenizer Split has no Regex or String pattern");
    }
    s->beh = parse_behavior(j.value("behavior", json()));
    s->invert = flag("invert", false);
    p.steps_.push_back(std::move(s));
  } else if (t == "Metaspace") {
    auto s = std::make_unique<Metaspace>();
    const json& r = j.value("replacement", json());
    if (!r.is_string() || r.get<std::string>().empty() || count_code_points(r.get<std::string>()) != 1)
      throw Error("tokenizer.json: pre_tokenizer Metaspace needs a one-character 'replacement'");
    s->rep = r.get<std::string>();
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
      const std::string ps = j["prepend_scheme"].get<std::string>();
      if (ps == "always") s->scheme = Metaspace::Always;
      else if (ps == "first") s->scheme = Metaspace::First;
      else if (ps == "never") s->scheme = Metaspace::Never;
      else throw Error("tokenizer.json: unsupported Metaspace prepend_scheme '" + ps + "'");
    } else {  // files written before prepend_scheme existed
      s->scheme = flag("add_prefix_space", true) ? Metaspace::Always : Metaspace::Never;
    }
    s->split = flag("split", true);
    p.steps_.push_back(std::move(s));
  } else if (t == "Digits") {
    auto s = std::make_unique<Digits>();
    s->individual = flag("individual_digits", false);
    p.steps_.push_back(std::move(s));
  } else {
    throw Error("tokenizer.json: unsupported pre_tokenizer '" + t + "'");
  }
}

PreTokenizer PreTokenizer::from_json(const json& j) {
  PreTokenizer p;
  add(j, p);
  return p;
}

void PreTokenizer::split(PreToken piece, std::vector<std::string>& out) const {
  if (steps_.empty()) {
    if (!piece.text.empty()) out.push_back(std::move(piece.text));
    return;
  }
  std::vector<PreToken> toks;
  toks.push_back(std::move(piece));
  for (const auto& s : steps_) s->run(toks);
  for (PreToken& t : toks)
    if (!t.text.empty()) out.push_back(std::move(t.text));
}

std::string PreTokenizer::describe() const {
  std::string r;
  for (const auto& s : steps_) r += (r.empty() ? "" : "+") + s->name();
  return r.empty() ? "none" : r;
}

}  // namespace headscope::tok
