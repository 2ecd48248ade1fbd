// Tokenizer: hand-made cases on the bundled model's tokenizer.json (expected ids read off its
// vocab), tiny hand-written tokenizer.json files that pin down BPE merge order and added-token
// flags, decoding, and bad input / bad files.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/atomic_file.h"
#include "common/error.h"
#include "model/tokenizer.h"
#include "model/tokenizer/regex.h"
#include "model/tokenizer/unicode_props.h"
#include "tests/support.h"

using namespace headscope;
using Ids = std::vector<int64_t>;
namespace fs = std::filesystem;

namespace {

const Tokenizer& bundled() {
  static Tokenizer t = Tokenizer::load(test::bundled_model());
  return t;
}

struct TempDir {
  fs::path p;
  TempDir() {
    p = fs::temp_directory_path() / ("headscope_tok_" + std::to_string(::getpid()) + "_" +
                                     std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::create_directories(p);
  }
  ~TempDir() { std::error_code ec; headscope::test::remove_tree(p); }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream f(p / name, std::ios::binary);
    f << content;
    return (p / name).string();
  }
};

// A minimal byte-level BPE tokenizer.json.
nlohmann::json tiny(const nlohmann::json& vocab, const nlohmann::json& merges,
                    const nlohmann::json& added = nlohmann::json::array()) {
  nlohmann::json bl = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                       {"use_regex", true}};
  return {{"version", "1.0"}, {"added_tokens", added}, {"normalizer", {{"type", "NFC"}}},
          {"pre_tokenizer", bl}, {"post_processor", bl}, {"decoder", bl},
          {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                     {"vocab", vocab}, {"merges", merges}}}};
}

Tokenizer load_json(const TempDir& d, const nlohmann::json& j, const std::string& name = "tokenizer.json") {
  return Tokenizer::load(d.write(name, j.dump()));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_SUITE("tokenizer") {
  TEST_CASE("bundled tokenizer: vocabulary lookups and pre-tokenisation") {
    const Tokenizer& t = bundled();
    CHECK(t.vocab_size() == 50277);  // 50254 BPE entries + 23 whitespace-run added tokens
    CHECK(t.encode("a") == Ids{66});
    CHECK(t.encode("!") == Ids{2});
    CHECK(t.encode("a the") == Ids{66, 253});  // " the" is one token (Ġthe)
    CHECK(t.encode("hello world") == Ids{25521, 1533});
    CHECK(t.encode("x y") == Ids{89, 340});
    CHECK(t.encode("\n\n") == Ids{535});
    CHECK(t.encode("\r\n") == Ids{2379});
    CHECK(t.encode("") == Ids{});
  }

  TEST_CASE("bundled tokenizer: whitespace-run added tokens match before BPE, longest first") {
    const Tokenizer& t = bundled();
    CHECK(t.encode("x  y") == Ids{89, 50276, 90});  // "  " is added token 50276; "y" loses its space
    CHECK(t.encode(std::string(24, ' ')) == Ids{50254});
    CHECK(t.encode(std::string(25, ' ')) == Ids{50254, 209});
    CHECK(t.encode(std::string(30, ' ')) == Ids{50254, 50272});
    CHECK(t.encode(std::string(48, ' ')) == Ids{50254, 50254});
    CHECK(t.encode(" ") == Ids{209});
  }

  TEST_CASE("bundled tokenizer: special tokens are split from raw text") {
    const Tokenizer& t = bundled();
    CHECK(t.encode("<|endoftext|><|padding|>") == Ids{0, 1});
    CHECK(t.encode("a<|endoftext|>b") == Ids{66, 0, 67});
    CHECK(t.encode(" <|endoftext|> ") == Ids{209, 0, 209});
    Ids partial = t.encode("<|endoftext");
    CHECK(std::find(partial.begin(), partial.end(), 0) == partial.end());
    CHECK(t.decode(partial) == "<|endoftext");
  }

  TEST_CASE("bundled tokenizer: NFC normalisation") {
    const Tokenizer& t = bundled();
    CHECK(t.encode("\xC3\xA9") == Ids{860});          // é precomposed: bytes C3 A9 -> "Ã©"
    CHECK(t.encode("e\xCC\x81") == Ids{860});         // e + combining acute composes to é
    CHECK(t.encode("cafe\xCC\x81") == t.encode("caf\xC3\xA9"));
    CHECK(t.decode(t.encode("cafe\xCC\x81")) == "caf\xC3\xA9");
  }

  TEST_CASE("bundled tokenizer: decoding") {
    const Tokenizer& t = bundled();
    CHECK(t.decode({0}) == "<|endoftext|>");
    CHECK(t.decode({50276, 66}) == "  a");
    CHECK(t.decode({66, 50290, 67}) == "ab");             // ids the tokenizer lacks are skipped
    CHECK(t.decode({66, 127, 67}) == "a\xEF\xBF\xBD" "b");  // lone lead byte C3 -> U+FFFD
    CHECK(t.decode({127, 104}) == "\xC3\xA9");             // bytes C3 ("Ã") + A9 ("©") = é
    const std::string text = "The quick brown fox\tjumps\r\nover  the lazy dog. 1984! \xE2\x80\x94 \xF0\x9F\x99\x82";
    CHECK(t.decode(t.encode(text)) == text);
  }

  TEST_CASE("invalid UTF-8 input is an Error") {
    const Tokenizer& t = bundled();
    CHECK_THROWS_AS(t.encode("\xFF"), Error);
    CHECK_THROWS_AS(t.encode("ab\xC3"), Error);
    CHECK_THROWS_AS(t.encode("\xED\xA0\x80"), Error);  // UTF-16 surrogate
    CHECK(error_of([&] { t.encode("ok \xC0\xAF"); }).find("UTF-8") != std::string::npos);
  }

  TEST_CASE("BPE merges apply by rank, leftmost first on ties") {
    TempDir d;
    nlohmann::json v = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"aa", 5}};
    CHECK(load_json(d, tiny(v, {"b c", "a b"})).encode("abc") == Ids{0, 4});
    CHECK(load_json(d, tiny(v, {"a b", "b c"})).encode("abc") == Ids{3, 2});
    Tokenizer t = load_json(d, tiny(v, {"a a"}));
    CHECK(t.encode("aaa") == Ids{5, 0});
    CHECK(t.encode("aaaa") == Ids{5, 5});
    // merges in the newer [a, b] form give the same result
    CHECK(load_json(d, tiny(v, nlohmann::json::array({nlohmann::json::array({"b", "c"}), nlohmann::json::array({"a", "b"})}))).encode("abc") == Ids{0, 4});
  }

  // Expected ids below were checked against the Hugging Face tokenizers library (0.23.2).
  TEST_CASE("added-token flags: lstrip, rstrip, single_word, normalized") {
    TempDir d;
    // byte-level alphabet: ' ' is "Ġ"
    nlohmann::json v = {{"a", 0}, {"b", 1}, {"x", 2}, {"Ġ", 3}, {"<", 4}, {">", 5}, {"s", 6}, {"m", 7}, {"r", 8}};
    auto tok = [](int id, const char* content, bool lstrip, bool rstrip, bool single, bool normalized) {
      return nlohmann::json{{"id", id}, {"content", content}, {"single_word", single}, {"lstrip", lstrip},
                            {"rstrip", rstrip}, {"normalized", normalized}, {"special", !normalized}};
    };
    nlohmann::json added = {tok(10, "<m>", true, false, false, false), tok(11, "<r>", false, true, false, false),
                            tok(12, "<s>", false, false, true, false), tok(13, "\xC3\xA9", false, false, false, true)};
    Tokenizer t = load_json(d, tiny(v, nlohmann::json::array(), added));
    // tokenizers ignores the file's ids: new added tokens are numbered from the vocab size (9)
    CHECK(t.encode("a <m>b") == Ids{0, 9, 1});      // lstrip swallows the space before
    CHECK(t.encode("a  <m>b") == Ids{0, 9, 1});
    CHECK(t.encode("a<r>  b") == Ids{0, 10, 1});    // rstrip swallows the spaces after
    CHECK(t.encode("a <s> b") == Ids{0, 3, 11, 3, 1});
    CHECK(t.encode("x<s>") == Ids{2, 4, 6, 5});     // single_word: not a match inside a word
    CHECK(t.encode("<s>x") == Ids{4, 6, 5, 2});
    CHECK(t.encode("a<m>") == Ids{0, 9});
    CHECK(t.encode("e\xCC\x81") == Ids{12});        // normalized token matches the NFC text
    CHECK(t.vocab_size() == 13);
    CHECK(t.decode({0, 9, 1}) == "a<m>b");
    CHECK(t.decode({12}) == "\xEF\xBF\xBD");  // "é" is byte E9 in the byte-level alphabet
  }

  TEST_CASE("added tokens already in the vocab keep the vocab id") {
    TempDir d;
    nlohmann::json v = {{"a", 0}, {"b", 1}, {"ab", 2}};
    nlohmann::json added = nlohmann::json::array(
        {nlohmann::json{{"id", 77}, {"content", "ab"}, {"special", true}, {"normalized", false}},
         nlohmann::json{{"id", 3}, {"content", "<x>"}, {"special", true}, {"normalized", false}}});
    Tokenizer t = load_json(d, tiny(v, nlohmann::json::array(), added));
    CHECK(t.encode("aab<x>") == Ids{0, 2, 3});  // "ab" split out as the added token with id 2
    CHECK(t.vocab_size() == 4);
  }

  TEST_CASE("load: file or directory; merge formats agree") {
    TempDir d;
    std::string raw = read_file(test::bundled_model() + "/tokenizer.json");
    auto j = nlohmann::json::parse(raw);
    REQUIRE(j["model"]["merges"][0].is_string());
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& m : j["model"]["merges"]) {
      std::string s = m.get<std::string>();
      size_t sp = s.find(' ');
      arr.push_back(nlohmann::json::array({s.substr(0, sp), s.substr(sp + 1)}));
    }
    j["model"]["merges"] = arr;
    fs::create_directories(d.p / "model");
    d.write("model/tokenizer.json", j.dump());
    Tokenizer t = Tokenizer::load((d.p / "model").string());
    const std::string text = "It was the best of times, it was the worst of times;  \xC3\xA9t\xC3\xA9 <|endoftext|>";
    CHECK(t.encode(text) == bundled().encode(text));
    CHECK(Tokenizer::load(test::bundled_model() + "/tokenizer.json").encode(text) == bundled().encode(text));
  }

  TEST_CASE("bad tokenizer files give one-line Errors") {
    TempDir d;
    auto msg = [&](const std::string& content) {
      std::string p = d.write("bad.json", content);
      return error_of([&] { Tokenizer::load(p); });
    };
    nlohmann::json v = {{"a", 0}, {"b", 1}, {"ab", 2}};
    CHECK(error_of([&] { Tokenizer::load((d.p / "nope").string()); }).find("not found") != std::string::npos);
    CHECK(error_of([&] { Tokenizer::load(d.p.string()); }).find("not found") != std::string::npos);
    CHECK(msg("{\"model\": {").find("is not valid JSON") != std::string::npos);
    CHECK(msg("").find("is not valid JSON") != std::string::npos);
    CHECK(msg("[1, 2]").find("not a JSON object") != std::string::npos);
    nlohmann::json j = tiny(v, {"a b"});
    j["model"].erase("merges");
    CHECK(msg(j.dump()) == "tokenizer.json: missing model.merges");
    j = tiny(v, {"a b"});
    j["model"].erase("vocab");
    CHECK(msg(j.dump()) == "tokenizer.json: missing model.vocab");
    CHECK(msg(tiny(v, {"a c"}).dump()).find("merge 1 (a c) names 'c', which is not in the vocab") != std::string::npos);
    CHECK(msg(tiny(v, {"ab"}).dump()).find("merge 1 (ab) is not of the form") != std::string::npos);
    CHECK(msg(tiny(v, {42}).dump()).find("merge 1 is neither") != std::string::npos);
    CHECK(msg(tiny({{"a", "zero"}}, nlohmann::json::array()).dump()).find("not an integer id") != std::string::npos);
    j = tiny(v, {"a b"});
    j["pre_tokenizer"] = {{"type", "Whitespace"}};
    CHECK(msg(j.dump()).find("unsupported pre_tokenizer 'Whitespace'") != std::string::npos);
    j = tiny(v, {"a b"});
    j["model"]["type"] = "WordPiece";
    CHECK(msg(j.dump()).find("unsupported model type") != std::string::npos);
    j = tiny(v, {"a b"});
    j["added_tokens"] = nlohmann::json::array({nlohmann::json::object({{"id", "x"}, {"content", "<x>"}})});
    CHECK(msg(j.dump()).find("added token id") != std::string::npos);
    j = tiny(v, {"a b"});
    j["model"]["vocab"] = {1, 2};
    CHECK(msg(j.dump()).find("model.vocab is not an object") != std::string::npos);
    // every message is one line
    for (const std::string& m : {msg("{\"model\": {"), msg("{\"a\":\n\n]")})
      CHECK(m.find('\n') == std::string::npos);
  }
  TEST_CASE("Llama-family components: one-line load errors naming the problem") {
    TempDir d;
    auto msg = [&](const nlohmann::json& j) {
      std::string p = d.write("bad.json", j.dump());
      return error_of([&] { Tokenizer::load(p); });
    };
    nlohmann::json v = {{"a", 0}, {"b", 1}, {"ab", 2}};
    // malformed regex: PCRE2's message and the offset in the pattern as written
    nlohmann::json j = tiny(v, {"a b"});
    j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "\\s+(ab"}}}, {"behavior", "Isolated"},
                          {"invert", false}};
    std::string m = msg(j);
    CHECK(m.find("invalid regex") != std::string::npos);
    CHECK(m.find("at offset 6") != std::string::npos);
    CHECK(m.find("missing closing parenthesis") != std::string::npos);
    CHECK(m.find('\n') == std::string::npos);
    // byte_fallback without the <0xNN> tokens
    j = tiny({{"a", 0}, {"b", 1}, {"ab", 2}, {"<0x00>", 3}}, {"a b"});
    j["model"]["byte_fallback"] = true;
    CHECK(msg(j).find("byte_fallback is set but the vocab has no <0x01> token (1 of the 256") != std::string::npos);
    // a merge making a token that is not in the vocab
    CHECK(msg(tiny({{"a", 0}, {"b", 1}}, {"a b"})).find("makes 'ab', which is not in the vocab") != std::string::npos);
    // a template naming a special token its special_tokens do not define, or an unknown id
    j = tiny(v, {"a b"});
    j["post_processor"] = {{"type", "TemplateProcessing"},
                           {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                       {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
                           {"special_tokens", nlohmann::json::object()}};
    CHECK(msg(j).find("names special token '<s>', which its special_tokens do not define") != std::string::npos);
    j["post_processor"]["special_tokens"] = {{"<s>", {{"id", "<s>"}, {"ids", {99}}, {"tokens", {"<s>"}}}}};
    CHECK(msg(j).find("has id 99, which is not in the vocabulary") != std::string::npos);
    // unimplemented components are named
    j = tiny(v, {"a b"});
    j["normalizer"] = {{"type", "Lowercase"}};
    CHECK(msg(j).find("unsupported normalizer 'Lowercase'") != std::string::npos);
    j = tiny(v, {"a b"});
    j["decoder"] = {{"type", "CTC"}};
    CHECK(msg(j).find("unsupported decoder 'CTC'") != std::string::npos);
    j = tiny(v, {"a b"});
    j["post_processor"] = {{"type", "BertProcessing"}};
    CHECK(msg(j).find("unsupported post_processor 'BertProcessing'") != std::string::npos);
    j = tiny(v, {"a b"});
    j["model"]["dropout"] = 0.1;
    CHECK(msg(j).find("dropout") != std::string::npos);
  }

  TEST_CASE("BOS from tokenizer_config.json when tokenizer.json has no template") {
    TempDir d;
    nlohmann::json j = tiny({{"a", 0}, {"b", 1}, {"ab", 2}}, {"a b"},
                            {{{"id", 3}, {"content", "<s>"}, {"special", true}, {"normalized", false}}});
    d.write("tokenizer.json", j.dump());
    CHECK(Tokenizer::load(d.p.string()).encode("ab") == Ids{2});  // no config: no BOS
    d.write("tokenizer_config.json", R"({"add_bos_token": true, "add_eos_token": true, "bos_token": "<s>",
                                         "eos_token": {"content": "<s>"}})");
    Tokenizer t = Tokenizer::load(d.p.string());
    CHECK(t.encode("ab") == Ids{3, 2, 3});
    CHECK(t.encode("ab", false) == Ids{2});
    CHECK(t.describe_bos().find("tokenizer_config.json") != std::string::npos);
    CHECK(t.decode({3, 2, 3}) == "<s>ab<s>");
    CHECK(t.decode({3, 2, 3}, true) == "ab");
    d.write("tokenizer_config.json", R"({"add_bos_token": true, "bos_token": "<nope>"})");
    CHECK(error_of([&] { Tokenizer::load(d.p.string()); }).find("bos_token '<nope>' is not in the vocabulary") !=
          std::string::npos);
  }

  // Issue #14: the pre-tokenizer regexes classify \p{..} at Unicode 16.0 (HF tokenizers' version),
  // not with PCRE2 10.42's Unicode 14.0 tables.
  TEST_CASE("regex property classes: Unicode 16.0 general categories, in and out of brackets") {
    using tok::Regex;
    CHECK(std::string(tok::property_unicode_version()) == "16.0.0");
    auto has = [](const char* name, uint32_t cp) {
      for (auto [a, b] : *tok::property_ranges(name))
        if (a <= cp && cp <= b) return true;
      return false;
    };
    CHECK(has("L", 0x31869));   // CJK Ext H, Unicode 15.0 (utf8proc 2.8)
    CHECK(has("Lo", 0x2EBF0));  // CJK Ext I, 15.1 (from unicode_delta.inc)
    CHECK(has("Nd", 0x10D40));  // Garay digit, 16.0
    CHECK(has("N", 0x10D40));
    CHECK(has("Lu", 'A'));
    CHECK(!has("Lu", 'a'));
    CHECK(has("Mc", 0x1171E));  // Mn in 15.0, Mc in 16.0
    CHECK(!has("Mn", 0x1171E));
    CHECK(!has("L", 0x323B0));  // CJK Ext J is Unicode 17.0: unassigned here as in tokenizers
    CHECK(!has("L", 0x280F));
    CHECK(tok::property_ranges("Han") == nullptr);
    CHECK(tok::property_class_body("Xx", false) == nullptr);

    auto spans = [](const std::string& pattern, const std::string& text) {
      Regex re(pattern, "test");
      std::vector<std::pair<size_t, size_t>> m;
      re.find_all(text, m);
      std::string r;
      for (auto [b, e] : m) r += "[" + text.substr(b, e - b) + "]";
      return r;
    };
    const std::string ext_h = "\U00031869", ext_i = "\U0002EBF0", garay_digit = "\U00010D40";
    const std::string braille = "\u280F";  // So
    CHECK(spans("\\p{L}+", "a" + ext_h + ext_i + braille + "b") == "[a" + ext_h + ext_i + "][b]");
    CHECK(spans("\\pL+", ext_h + "." + ext_h) == "[" + ext_h + "][" + ext_h + "]");
    CHECK(spans("\\P{L}+", "a" + braille + ext_h + "!b") == "[" + braille + "][!]");
    CHECK(spans("\\p{^L}+", "a" + braille + ext_h + "!b") == "[" + braille + "][!]");
    CHECK(spans("\\p{N}", "7" + garay_digit) == "[7][" + garay_digit + "]");
    // inside brackets, plain and negated, and \P inside a class
    CHECK(spans("[^\\r\\n\\p{L}\\p{N}]?\\p{L}+", ext_h + braille + "ab") == "[" + ext_h + "][" + braille + "ab]");
    CHECK(spans("[\\p{N}x]+", "x" + garay_digit + "y") == "[x" + garay_digit + "]");
    CHECK(spans("[\\P{L}]+", "a" + braille + "!" + ext_i + "b") == "[" + braille + "!]");
    CHECK(spans("[^\\s\\p{L}\\p{N}]+", "a " + braille + "!" + ext_h) == "[" + braille + "!]");
    // a property unicode_props does not offer keeps PCRE2's meaning; an escaped backslash is no escape
    CHECK(spans("\\p{Han}+", "a\u4E00\u4E01b") == "[\u4E00\u4E01]");
    CHECK(spans("\\\\p\\{L\\}", "x\\p{L}") == "[\\p{L}]");
    // a malformed pattern after a rewritten property still reports the offset as written
    std::string m = error_of([] { Regex("\\p{L}+(ab", "test"); });
    CHECK(m.find("at offset 9") != std::string::npos);
  }
}
