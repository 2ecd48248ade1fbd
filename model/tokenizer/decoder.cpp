#include "model/tokenizer/decoder.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "model/tokenizer/unicode.h"

namespace headscope::tok {

using json = nlohmann::json;

void Decoder::add(const json& j, Decoder& d) {
  if (j.is_null()) return;
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    throw Error("tokenizer.json: a decoder has no type");
  d.none_ = false;
  const std::string t = j["type"].get<std::string>();
  Step s{};
  if (t == "Sequence") {
    const json& list = j.value("decoders", json());
    if (!list.is_array()) throw Error("tokenizer.json: decoder Sequence has no 'decoders' list");
    for (const json& n : list) add(n, d);
    return;
  } else if (t == "ByteLevel") {
    s.kind = Step::ByteLevel;
  } else if (t == "Metaspace") {
    s.kind = Step::Metaspace;
    const json& r = j.value("replacement", json());
    if (!r.is_string() || count_code_points(r.get<std::string>()) != 1)
      throw Error("tokenizer.json: decoder Metaspace needs a one-character 'replacement'");
    s.a = r.get<std::string>();
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string())
      s.prepend = j["prepend_scheme"].get<std::string>() != "never";
    else
      s.prepend = j.value("add_prefix_space", true);
  } else if (t == "Replace") {
    const json& p = j.value("pattern", json());
    if (!p.is_object() || !p.contains("String") || !p["String"].is_string() || !j.contains("content") ||
        !j["content"].is_string())
      throw Error("tokenizer.json: decoder Replace with a non-string pattern (" + p.dump() + ") is not supported");
    s.kind = Step::Replace;
    s.a = p["String"].get<std::string>();
    s.b = j["content"].get<std::string>();
    if (s.a.empty()) throw Error("tokenizer.json: decoder Replace with an empty pattern");
  } else if (t == "ByteFallback") {
    s.kind = Step::ByteFallback;
  } else if (t == "Fuse") {
    s.kind = Step::Fuse;
  } else if (t == "Strip") {
    s.kind = Step::Strip;
    const json& c = j.value("content", json());
    if (!c.is_string() || count_code_points(c.get<std::string>()) != 1)
      throw Error("tokenizer.json: decoder Strip needs a one-character 'content'");
    s.a = c.get<std::string>();
    s.start = j.value("start", size_t(0));
    s.stop = j.value("stop", size_t(0));
  } else {
    throw Error("tokenizer.json: unsupported decoder '" + t + "'");
  }
  d.steps_.push_back(s);
}

Decoder Decoder::from_json(const json& j) {
  Decoder d;
  add(j, d);
  return d;
}

namespace {
// "<0xNN>" -> byte, as tokenizers' ByteFallback reads it (u8::from_str_radix of the two chars).
int fallback_byte(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  int h = hex(t[3]), l = hex(t[4]);
  if (t[3] == '+' && l >= 0) return l;  // Rust accepts a leading '+'
  return h < 0 || l < 0 ? -1 : h * 16 + l;
}
}  // namespace

std::string Decoder::decode(std::vector<std::string> toks) const {
  if (none_) {
    std::string r;
    for (size_t i = 0; i < toks.size(); ++i) r += (i ? " " : "") + toks[i];
    return r;
  }
  for (const Step& s : steps_) {
    switch (s.kind) {
      case Step::ByteLevel: {
        std::string bytes;
        for (const std::string& t : toks) {
          std::string b;
          bool pure = true;
          for (size_t i = 0; i < t.size() && pure;) {
            int v = byte_of_codepoint(next_cp(t, i));
            if (v < 0) pure = false;
            else b.push_back(static_cast<char>(v));
          }
          bytes += pure ? b : t;
        }
        toks.assign(1, utf8_lossy(bytes));
        break;
      }
      case Step::Metaspace:
        for (size_t i = 0; i < toks.size(); ++i) {
          std::string r;
          const std::string& t = toks[i];
          for (size_t p = 0; p < t.size();) {
            if (t.compare(p, s.a.size(), s.a) == 0) {
              if (!(i == 0 && s.prepend)) r.push_back(' ');
              p += s.a.size();
            } else {
              r.push_back(t[p++]);
            }
          }
          toks[i].swap(r);
        }
        break;
      case Step::Replace:
        for (std::string& t : toks) {
          std::string r;
          size_t pos = 0;
          for (size_t k; (k = t.find(s.a, pos)) != std::string::npos; pos = k + s.a.size()) {
            r.append(t, pos, k - pos);
            r += s.b;
          }
          r.append(t, pos, std::string::npos);
          t.swap(r);
        }
        break;
      case Step::ByteFallback: {
        std::vector<std::string> out;
        std::string pending;
        auto flush = [&] {
          if (pending.empty()) return;
          if (is_valid_utf8(pending)) out.push_back(pending);
          else
            for (size_t k = 0; k < pending.size(); ++k) out.push_back("\xEF\xBF\xBD");
          pending.clear();
        };
        for (std::string& t : toks) {
          int b = fallback_byte(t);
          if (b >= 0) { pending.push_back(static_cast<char>(b)); continue; }
          flush();
          out.push_back(std::move(t));
        }
        flush();
        toks.swap(out);
        break;
      }
      case Step::Fuse: {
        std::string r;
        for (const std::string& t : toks) r += t;
        toks.assign(1, r);
        break;
      }
      case Step::Strip:
        for (std::string& t : toks) {
          std::vector<std::pair<size_t, size_t>> ch;  // (offset, length) of each character
          for (size_t i = 0; i < t.size();) {
            size_t b = i;
            next_cp(t, i);
            ch.emplace_back(b, i - b);
          }
          size_t start_cut = 0, stop_cut = ch.size();
          for (size_t i = 0; i < s.start && i < ch.size(); ++i) {
            if (t.compare(ch[i].first, ch[i].second, s.a) == 0) start_cut = i + 1;
            else break;
          }
          for (size_t i = 0; i < s.stop && i < ch.size(); ++i) {
            size_t idx = ch.size() - i - 1;
            if (t.compare(ch[idx].first, ch[idx].second, s.a) == 0) stop_cut = idx;
            else break;
          }
          if (start_cut >= stop_cut) { t.clear(); continue; }
          size_t b = ch[start_cut].first;
          size_t e = stop_cut < ch.size() ? ch[stop_cut].first : t.size();
          t = t.substr(b, e - b);
        }
        break;
    }
  }
  std::string r;
  for (const std::string& t : toks) r += t;
  return r;
}

std::string Decoder::describe() const {
  static const char* names[] = {"ByteLevel", "Metaspace", "Replace", "ByteFallback", "Fuse", "Strip"};
  std::string r;
  for (const Step& s : steps_) r += (r.empty() ? "" : "+") + std::string(names[s.kind]);
  return r.empty() ? "none" : r;
}

}  // namespace headscope::tok
