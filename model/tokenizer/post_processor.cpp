#include "model/tokenizer/post_processor.h"

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace headscope::tok {

using json = nlohmann::json;

namespace {

// Finds the TemplateProcessing of a post_processor (possibly inside a Sequence); checks the rest.
const json* find_template(const json& p) {
  if (p.is_null()) return nullptr;
  if (!p.is_object() || !p.contains("type") || !p["type"].is_string())
    throw Error("tokenizer.json: a post_processor has no type");
  const std::string t = p["type"].get<std::string>();
  if (t == "TemplateProcessing") return &p;
  if (t == "ByteLevel") return nullptr;  // only trims offsets: no ids change
  if (t == "Sequence") {
    auto it = p.find("processors");  // (a reference into p: the result points into it)
    if (it == p.end() || !it->is_array())
      throw Error("tokenizer.json: post_processor Sequence has no 'processors' list");
    const json& list = *it;
    const json* found = nullptr;
    for (const json& q : list)
      if (const json* f = find_template(q)) {
        if (found) throw Error("tokenizer.json: post_processor Sequence with two TemplateProcessing");
        found = f;
      }
    return found;
  }
  throw Error("tokenizer.json: unsupported post_processor '" + t + "'");
}

std::string token_content(const json& j) {  // "<s>" or {"content": "<s>", ...}
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
  return "";
}

}  // namespace

PostProcessor PostProcessor::from_json(const json& post, const json& config,
                                       const std::function<int64_t(const std::string&)>& id_of,
                                       const std::function<bool(int64_t)>& known) {
  PostProcessor r;
  r.source = "none";
  if (const json* t = find_template(post)) {
    r.source = "TemplateProcessing";
    const json& single = t->value("single", json());
    if (!single.is_array())
      throw Error("tokenizer.json: TemplateProcessing 'single' is not a list of pieces");
    const json& specials = t->value("special_tokens", json::object());
    bool seen_a = false;
    for (const json& item : single) {
      if (item.contains("Sequence")) {
        if (seen_a) throw Error("tokenizer.json: TemplateProcessing 'single' names the sequence twice");
        seen_a = true;
        continue;
      }
      if (!item.contains("SpecialToken") || !item["SpecialToken"].contains("id"))
        throw Error("tokenizer.json: TemplateProcessing piece " + item.dump() + " is not understood");
      const std::string name = item["SpecialToken"]["id"].get<std::string>();
      auto it = specials.find(name);
      if (it == specials.end() || !it->contains("ids") || !(*it)["ids"].is_array())
        throw Error("tokenizer.json: TemplateProcessing names special token '" + name +
                    "', which its special_tokens do not define");
      const json& ids = (*it)["ids"];
      const json toks = it->value("tokens", json::array());
      for (size_t k = 0; k < ids.size(); ++k) {
        if (!ids[k].is_number_integer() || !known(ids[k].get<int64_t>()))
          throw Error("tokenizer.json: TemplateProcessing special token '" + name + "' has id " + ids[k].dump() +
                      ", which is not in the vocabulary");
        (seen_a ? r.suffix : r.prefix).push_back(ids[k].get<int64_t>());
        (seen_a ? r.suffix_tokens : r.prefix_tokens)
            .push_back(k < toks.size() && toks[k].is_string() ? toks[k].get<std::string>() : name);
      }
    }
    if (!seen_a) throw Error("tokenizer.json: TemplateProcessing 'single' has no $A sequence");
    return r;
  }
  if (!config.is_object()) return r;
  auto add = [&](const char* flag, const char* tok, std::vector<int64_t>& ids, std::vector<std::string>& names) {
    auto f = config.find(flag);
    if (f == config.end() || !f->is_boolean() || !f->get<bool>()) return;
    const std::string content = config.contains(tok) ? token_content(config[tok]) : "";
    if (content.empty())
      throw Error(std::string("tokenizer_config.json: ") + flag + " is set but " + tok + " is not");
    int64_t id = id_of(content);
    if (id < 0)
      throw Error(std::string("tokenizer_config.json: ") + tok + " '" + content + "' is not in the vocabulary");
    ids.push_back(id);
    names.push_back(content);
    r.source = "tokenizer_config.json";
  };
  add("add_bos_token", "bos_token", r.prefix, r.prefix_tokens);
  add("add_eos_token", "eos_token", r.suffix, r.suffix_tokens);
  return r;
}

}  // namespace headscope::tok
