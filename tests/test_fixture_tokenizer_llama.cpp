// The Llama-family tokenizers of ../shared/tokenizers (Llama-2, Phi-3, Mistral, Qwen2.5, Llama-3)
// and the TinyStories model's: every case of cases.jsonl (ids with and without special tokens,
// made by Hugging Face tokenizers) and external_cases.jsonl (llama.cpp's vocab tests, ids from
// Python HF tokenizers) must be reproduced exactly; decoding must equal Hugging Face's decode
// (tests/fixtures/tokenizer_reference.jsonl, made by scripts/tokenizer_reference.py); and the
// streamed encode_prefix must equal encode truncated.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/atomic_file.h"
#include "common/text.h"
#include "model/tokenizer.h"
#include "tests/support.h"

using namespace headscope;
using Ids = std::vector<int64_t>;

namespace {

const char* kFamilies[] = {"llama2-spm", "phi3-mini", "mistral-v0.1", "qwen2.5", "llama3"};

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream f(path);
  std::vector<nlohmann::json> r;
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) r.push_back(nlohmann::json::parse(line));
  return r;
}

std::string show(const Ids& v) {
  std::ostringstream o;
  for (size_t i = 0; i < v.size() && i < 40; ++i) o << (i ? " " : "") << v[i];
  if (v.size() > 40) o << " ...";
  return o.str();
}

std::string dir_of(const std::string& name) {
  return name == "llama-tinystories-656k" ? test::shared("models/" + name) : test::shared("tokenizers/" + name);
}

const Tokenizer& get(const std::string& name) {
  static std::unordered_map<std::string, Tokenizer> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, Tokenizer::load(dir_of(name))).first;
  return it->second;
}

void check_cases(const std::string& name, const std::string& file, bool with_special) {
  const Tokenizer& tok = get(name);
  std::vector<nlohmann::json> cases = read_jsonl(test::shared("tokenizers/" + name + "/" + file));
  REQUIRE(cases.size() >= 10);
  size_t ok = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string text = cases[i].at("text").get<std::string>();
    Ids plain = tok.encode(text, false);
    Ids want_plain = cases[i].at("ids_no_special").get<Ids>();
    bool good = plain == want_plain;
    CHECK_MESSAGE(plain == want_plain, name << " " << file << " case " << i << " "
                                            << nlohmann::json(text.substr(0, 60)).dump() << "\n  expected "
                                            << show(want_plain) << "\n  got      " << show(plain));
    if (with_special) {
      Ids ids = tok.encode(text, true);
      Ids want = cases[i].at("ids").get<Ids>();
      CHECK_MESSAGE(ids == want, name << " case " << i << " with special tokens: expected " << show(want)
                                      << ", got " << show(ids));
      good = good && ids == want;
    }
    ok += good;
  }
  MESSAGE(name << " " << file << ": " << ok << "/" << cases.size() << " exact");
}

}  // namespace

TEST_SUITE("fixture_tokenizer_llama") {
  TEST_CASE("cases.jsonl: ids with and without special tokens, every family") {
    for (const char* f : kFamilies) check_cases(f, "cases.jsonl", true);
  }

  TEST_CASE("external_cases.jsonl (llama.cpp vocab tests)") {
    for (const char* f : {"llama2-spm", "phi3-mini", "qwen2.5", "llama3"}) check_cases(f, "external_cases.jsonl", false);
  }

  // Issue #14: Unicode 15.0-16.0 letters and digits split as Hugging Face splits them (tokenizers
  // uses Unicode 16.0 for \p{L} / \p{N}; PCRE2 10.42's own tables are 14.0). Expected ids from
  // Python tokenizers 0.23.3: Tokenizer.from_file(".../tokenizer.json").encode(text).ids
  // (the first string is the mismatch differential fuzzing found).
  TEST_CASE("Unicode 15-16 letters and digits: ids equal Hugging Face's (issue #14)") {
    struct Case {
      const char* text;
      Ids llama3, qwen;
    };
    const Case cases[] = {
        {"\U00031869\u280f" "aAuhytgtjtvwfnnpnvkworld\"*/\n ",  // U+31869 CJK Ext H (15.0)
         {128000, 172, 109, 94, 102, 158, 254, 112865, 66432, 8671, 86326, 73, 23001, 86, 8998, 6331,
          38041, 74, 14957, 1, 3356, 220},
         {172, 109, 94, 102, 126188, 237, 64, 65332, 8503, 85226, 73, 22209, 86, 8822, 6199, 36941, 74,
          14615, 1, 3276, 220}},
        {"\u280f\U00031350\u280f" "ab",  // U+31350 CJK Ext H (15.0)
         {128000, 158, 254, 237, 172, 109, 235, 238, 158, 254, 237, 370},
         {126188, 237, 172, 109, 235, 238, 126188, 237, 370}},
        {"x\u2022\U0002B739yz",  // U+2B739 CJK Ext C (15.0)
         {128000, 87, 6806, 172, 104, 250, 117, 18854}, {87, 6667, 99181, 250, 117, 18348}},
        {"(\U0001E030)abc",  // U+1E030 modifier letter, Lm (15.0)
         {128000, 7, 172, 252, 222, 108, 8, 13997}, {7, 172, 252, 222, 108, 8, 13683}},
        {"!\U0002EBF0!ok",  // U+2EBF0 CJK Ext I (15.1)
         {128000, 0, 172, 106, 107, 108, 0, 564}, {0, 172, 106, 107, 108, 0, 562}},
        {"#\U00010D4A\U00010D40\U00010D41 go",  // Garay letter Lo, digits Nd (16.0)
         {128000, 2, 172, 238, 113, 232, 172, 238, 113, 222, 172, 238, 113, 223, 733},
         {2, 123934, 113, 232, 123934, 113, 222, 123934, 113, 223, 728}},
    };
    for (const Case& c : cases) {
      Ids l3 = get("llama3").encode(c.text, true), qw = get("qwen2.5").encode(c.text, true);
      CHECK_MESSAGE(l3 == c.llama3, "llama3 " << nlohmann::json(c.text).dump() << ": expected "
                                              << show(c.llama3) << ", got " << show(l3));
      CHECK_MESSAGE(qw == c.qwen, "qwen2.5 " << nlohmann::json(c.text).dump() << ": expected "
                                             << show(c.qwen) << ", got " << show(qw));
    }
  }

  TEST_CASE("special tokens: BOS as Hugging Face adds it") {
    CHECK(get("llama2-spm").special_prefix() == Ids{1});
    CHECK(get("mistral-v0.1").special_prefix() == Ids{1});
    CHECK(get("llama3").special_prefix() == Ids{128000});
    CHECK(get("phi3-mini").special_prefix().empty());
    CHECK(get("qwen2.5").special_prefix().empty());
    CHECK(get("llama-tinystories-656k").special_prefix() == Ids{1});
    for (const char* f : kFamilies) CHECK(get(f).special_suffix().empty());
  }

  TEST_CASE("decode equals Hugging Face decode (tokenizer_reference.jsonl), TinyStories ids too") {
    auto refs = read_jsonl(test::repo("tests/fixtures/tokenizer_reference.jsonl"));
    REQUIRE(refs.size() > 500);
    std::unordered_map<std::string, std::vector<nlohmann::json>> cases;
    size_t checked = 0;
    for (const nlohmann::json& r : refs) {
      const std::string name = r.at("tokenizer").get<std::string>();
      const std::string src = r.at("source").get<std::string>();
      auto& cs = cases[src];
      if (cs.empty()) cs = read_jsonl(test::shared("tokenizers/" + src + "/cases.jsonl"));
      const std::string text = cs.at(r.at("case").get<size_t>()).at("text").get<std::string>();
      const Tokenizer& tok = get(name);
      Ids ids = r.at("ids").get<Ids>();
      CHECK_MESSAGE(tok.encode(text, true) == ids, name << " ids of " << src << " case " << r.at("case"));
      CHECK_MESSAGE(tok.decode(ids) == r.at("decoded").get<std::string>(),
                    name << " decode of " << src << " case " << r.at("case"));
      CHECK_MESSAGE(tok.decode(ids, true) == r.at("decoded_skip_special").get<std::string>(),
                    name << " decode (skip special) of " << src << " case " << r.at("case"));
      ++checked;
    }
    MESSAGE(checked << " reference decodings checked");
  }

  TEST_CASE("encode_prefix equals encode truncated, reading only what it needs") {
    const std::string wiki = load_text(test::repo("data/wikitext2-test.txt"), Newlines::LF);
    const std::string book = load_text(test::repo("data/pg19-10146.txt"), Newlines::Keep);  // CRLF kept
    std::vector<std::string> names(std::begin(kFamilies), std::end(kFamilies));
    names.push_back("llama-tinystories-656k");
    for (const std::string& name : names) {
      const Tokenizer& tok = get(name);
      for (const std::string* text : {&wiki, &book}) {
        const std::string& t = *text;
        Ids full = tok.encode(t, true);
        for (int64_t n : {int64_t(1), int64_t(7), int64_t(1000), int64_t(30000), int64_t(full.size()),
                          int64_t(full.size() + 5)}) {
          size_t pos = 0;
          auto next = [&](std::string& out) {  // 4 KB pieces
            if (pos >= t.size()) return false;
            out.append(t, pos, 4096);
            pos += 4096;
            return true;
          };
          Tokenizer::PrefixStats st;
          Ids got = tok.encode_prefix(next, n, true, &st);
          Ids want(full.begin(), full.begin() + std::min<size_t>(full.size(), size_t(n)));
          CHECK_MESSAGE(got == want, name << " encode_prefix(" << n << ") of a " << t.size() << "-byte text");
          if (n <= 1000) CHECK_MESSAGE(st.bytes_read < 300000, name << " read " << st.bytes_read << " bytes for " << n);
          CHECK(st.exhausted == (n >= int64_t(full.size())));
        }
      }
    }
  }

  TEST_CASE("the tiny random models' tokenizers load and add their BOS") {
    for (const char* m : {"tiny-random-llama3", "tiny-random-mistral", "tiny-random-qwen2", "tiny-random-qwen3"}) {
      Tokenizer t = Tokenizer::load(test::shared(std::string("models/") + m));
      Ids ids = t.encode("Hello world", true);
      CHECK(ids.size() >= 2);
      CHECK(ids.front() == 1);
      // As tokenizers 0.23 does: BOS is a *normalized* added token, so skip_special keeps it
      // (Python: decode([1, 80, 1288, 139, 410, 555], skip_special_tokens=True) ==
      // '<|start_story|> Hello world').
      CHECK(t.decode(ids, true) == "<|start_story|> Hello world");
      CHECK(t.decode(Ids(ids.begin() + 1, ids.end()), true) == "Hello world");
    }
  }
}
