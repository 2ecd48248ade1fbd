#include "model/tokenizer/normalizer.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "model/tokenizer/unicode.h"

namespace headscope::tok {

using json = nlohmann::json;

void Normalizer::add(const json& j, std::vector<Step>& steps) {
  if (j.is_null()) return;
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    throw Error("tokenizer.json: a normalizer has no type");
  const std::string t = j["type"].get<std::string>();
  if (t == "Sequence") {
    const json& list = j.value("normalizers", json());
    if (!list.is_array()) throw Error("tokenizer.json: normalizer Sequence has no 'normalizers' list");
    for (const json& n : list) add(n, steps);
  } else if (t == "NFC") {
    steps.push_back({Step::NFC, "", ""});
  } else if (t == "Prepend") {
    if (!j.contains("prepend") || !j["prepend"].is_string())
      throw Error("tokenizer.json: normalizer Prepend has no 'prepend' string");
    steps.push_back({Step::Prepend, j["prepend"].get<std::string>(), ""});
  } else if (t == "Replace") {
    const json& p = j.value("pattern", json());
    if (!p.is_object() || !p.contains("String") || !p["String"].is_string())
      throw Error("tokenizer.json: normalizer Replace with a non-string pattern (" + p.dump() +
                  ") is not supported");
    if (!j.contains("content") || !j["content"].is_string())
      throw Error("tokenizer.json: normalizer Replace has no 'content' string");
    std::string a = p["String"].get<std::string>();
    if (a.empty()) throw Error("tokenizer.json: normalizer Replace with an empty pattern");
    steps.push_back({Step::Replace, a, j["content"].get<std::string>()});
  } else {
    throw Error("tokenizer.json: unsupported normalizer '" + t + "'");
  }
}

Normalizer Normalizer::from_json(const json& j) {
  Normalizer n;
  add(j, n.steps_);
  return n;
}

void Normalizer::normalize(std::string& s, bool continued) const {
  for (const Step& st : steps_) {
    switch (st.kind) {
      case Step::NFC:
        s = nfc(s);
        break;
      case Step::Prepend:
        if (!s.empty() && !continued) s.insert(0, st.a);
        break;
      case Step::Replace: {
        if (s.find(st.a) == std::string::npos) break;
        std::string out;
        out.reserve(s.size() + s.size() / 4);
        size_t pos = 0;
        for (size_t k; (k = s.find(st.a, pos)) != std::string::npos; pos = k + st.a.size()) {
          out.append(s, pos, k - pos);
          out += st.b;
        }
        out.append(s, pos, std::string::npos);
        s.swap(out);
        break;
      }
    }
  }
}

bool Normalizer::newline_cut_safe() const {
  for (const Step& st : steps_)
    if (st.a.find('\n') != std::string::npos || st.b.find('\n') != std::string::npos) return false;
  return true;
}

std::string Normalizer::describe() const {
  std::string r;
  for (const Step& st : steps_) {
    if (!r.empty()) r += "+";
    r += st.kind == Step::NFC ? "NFC" : st.kind == Step::Prepend ? "Prepend" : "Replace";
  }
  return r.empty() ? "none" : r;
}

}  // namespace headscope::tok
