// Every case of ../shared/fixtures/tokenizer_cases.jsonl (ids from the Hugging Face `tokenizers`
// library) must be reproduced exactly by both shared models' tokenizer.json, and decoding must
// give back the NFC form of the text.
#include <doctest/doctest.h>

#include <utf8proc.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/atomic_file.h"
#include "common/text.h"
#include "model/tokenizer.h"
#include "tests/support.h"

using namespace headscope;

namespace {

struct Case {
  std::string text;
  std::vector<int64_t> ids;
};

std::vector<Case> load_cases() {
  std::ifstream f(test::shared("fixtures/tokenizer_cases.jsonl"));
  REQUIRE(f.good());
  std::vector<Case> cases;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    cases.push_back({j.at("text").get<std::string>(), j.at("ids").get<std::vector<int64_t>>()});
  }
  return cases;
}

std::string nfc_ref(const std::string& s) {
  utf8proc_uint8_t* out = nullptr;
  auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), (utf8proc_ssize_t)s.size(),
                        &out, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  REQUIRE(n >= 0);
  std::string r(reinterpret_cast<char*>(out), (size_t)n);
  std::free(out);
  return r;
}

std::string show(const std::vector<int64_t>& v) {
  std::ostringstream o;
  for (size_t i = 0; i < v.size(); ++i) o << (i ? " " : "") << v[i];
  return o.str();
}

void check_model(const std::string& name) {
  Tokenizer tok = Tokenizer::load(test::shared("models/" + name));
  std::vector<Case> cases = load_cases();
  REQUIRE(cases.size() >= 20);
  size_t matched = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    std::vector<int64_t> got = tok.encode(c.text);
    CHECK_MESSAGE(got == c.ids, name << " case " << i << " text " << nlohmann::json(c.text.substr(0, 80)).dump()
                                     << "\n  expected " << show(c.ids).substr(0, 300)
                                     << "\n  got      " << show(got).substr(0, 300));
    matched += got == c.ids;
    // Decoding gives back the text as the tokenizer saw it: NFC-normalised (the added tokens
    // are not normalised, but NFC leaves them and their neighbours unchanged in these cases).
    CHECK_MESSAGE(tok.decode(got) == nfc_ref(c.text), name << " round trip of case " << i);
  }
  MESSAGE(name << ": " << matched << "/" << cases.size() << " tokenizer cases match exactly");
}

}  // namespace

TEST_SUITE("fixture_tokenizer") {
  TEST_CASE("tokenizer_cases.jsonl: neox-gutenberg-14m") { check_model("neox-gutenberg-14m"); }
  TEST_CASE("tokenizer_cases.jsonl: neox-gutenberg-70m") { check_model("neox-gutenberg-70m"); }

  TEST_CASE("whole bundled texts: token counts of reference_eval.json") {
    auto ref = nlohmann::json::parse(read_file(test::shared("fixtures/neox-gutenberg-14m/reference_eval.json")));
    Tokenizer tok = Tokenizer::load(test::bundled_model());
    std::string book = load_text(test::repo("data/pg19-10146.txt"), Newlines::LF);
    std::string wiki = load_text(test::repo("data/wikitext2-test.txt"), Newlines::LF);
    std::vector<int64_t> ids = tok.encode(book);
    CHECK((int64_t)ids.size() == ref.at("tokens").at("pg19_10146").get<int64_t>());
    CHECK(tok.decode(ids) == book);  // the book is NFC already
    CHECK((int64_t)tok.encode(wiki).size() == ref.at("tokens").at("wikitext2_test").get<int64_t>());
  }

  TEST_CASE("bundled model's tokenizer equals the shared one") {
    Tokenizer a = Tokenizer::load(test::bundled_model());
    Tokenizer b = Tokenizer::load(test::shared("models/neox-gutenberg-14m/tokenizer.json"));
    for (const Case& c : load_cases()) CHECK(a.encode(c.text) == b.encode(c.text));
  }
}
