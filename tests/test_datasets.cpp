// Document inputs, per-document / pooled statistics with bootstrap intervals, NLL export, and
// the CLI over several documents. References: hand-computed sums, the exhaustive bootstrap
// distribution of two documents, the .npy format specification, and single-text eval runs.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <H5Cpp.h>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/error.h"
#include "dataset/document_stats.h"
#include "dataset/document_tokens.h"
#include "dataset/documents.h"
#include "dataset/nll_export.h"
#include "tests/cli_runner.h"
#include "tests/support.h"

using namespace headscope;
namespace fs = std::filesystem;

namespace {

std::string tmp(const std::string& name) { return test::temp_path("datasets", name); }

std::vector<int64_t> fake_encode(const std::string& s) {  // one token per byte
  std::vector<int64_t> v;
  for (unsigned char c : s) v.push_back(c);
  return v;
}

void expect_one_line_error(const std::string& args, const std::string& what) {
  test::Run r = test::run(args);
  INFO("args: " << args << "\noutput: " << r.out);
  CHECK(r.code != 0);
  CHECK(r.out.rfind("headscope: error: ", 0) == 0);
  CHECK(r.out.find(what) != std::string::npos);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
}

}  // namespace

TEST_SUITE("datasets") {
  TEST_CASE("documents from --text, a directory, jsonl and --split-on") {
    const std::string dir = tmp("docs_dir");
    test::remove_tree(dir);
    fs::create_directories(dir);
    test::write_file(dir + "/b.txt", "second\r\ndoc");
    test::write_file(dir + "/a.txt", "first doc");
    test::write_file(dir + "/skip.md", "not a txt");
    DocumentSource src;
    src.dataset = dir;
    auto docs = load_documents(src);
    REQUIRE(docs.size() == 2);
    CHECK(docs[0].name == dir + "/a.txt");
    CHECK(docs[1].text == "second\ndoc");  // newline convention applied

    const std::string jl = tmp("d.jsonl");
    test::write_file(jl, "{\"text\": \"one\", \"id\": 1}\n\n{\"text\": \"two\\nlines\"}\n");
    src = {};
    src.dataset = jl;
    src.texts = {dir + "/a.txt"};
    docs = load_documents(src);
    REQUIRE(docs.size() == 3);
    CHECK(docs[0].text == "first doc");  // --text first, then the dataset
    CHECK(docs[1].name == jl + ":1");
    CHECK(docs[2].name == jl + ":3");
    CHECK(docs[2].text == "two\nlines");
    src.max_docs = 2;
    CHECK(load_documents(src).size() == 2);

    src = {};
    src.dataset = jl;
    src.field = "body";
    CHECK_THROWS_WITH_AS(load_documents(src), doctest::Contains("line 1: no field 'body'"), Error);
    test::write_file(jl, "{\"text\": \"one\"}\n[1,2]\n");
    src.field = "text";
    CHECK_THROWS_WITH_AS(load_documents(src), doctest::Contains("line 2: not a JSON object"), Error);
    test::write_file(jl, "\n\n");
    CHECK_THROWS_WITH_AS(load_documents(src), doctest::Contains("no documents"), Error);

    const std::string one = tmp("one.txt");
    test::write_file(one, "alpha\n\nbeta\n\n\n\ngamma");
    src = {};
    src.dataset = one;
    src.split_on = "\\n\\n";
    docs = load_documents(src);
    REQUIRE(docs.size() == 3);  // the empty piece between the two separators is dropped
    CHECK(docs[0].text == "alpha");
    CHECK(docs[1].text == "beta");
    CHECK(docs[2].text == "gamma");
    CHECK(docs[2].name == one + "#4");

    const std::string empty_dir = tmp("empty_dir");
    fs::create_directories(empty_dir);
    src = {};
    src.dataset = empty_dir;
    CHECK_THROWS_WITH_AS(load_documents(src), doctest::Contains("no .txt files"), Error);
    CHECK_THROWS_AS(load_documents(DocumentSource{}), Error);
  }

  TEST_CASE("per-document tokenization: BOS per document, --max-tokens per document, too short") {
    std::vector<Document> docs = {{"a", "a", "hello"}, {"b", "b", "hi"}};
    auto t = tokenize_documents(docs, fake_encode, 4, /*bos=*/0);
    REQUIRE(t.size() == 2);
    CHECK(t[0].ids == std::vector<int64_t>{0, 'h', 'e', 'l'});
    CHECK(t[0].total_tokens == 6);
    CHECK(t[1].ids == std::vector<int64_t>{0, 'h', 'i'});
    CHECK(total_predictions(t) == 3 + 2);
    auto nob = tokenize_documents(docs, fake_encode, 0);
    CHECK(nob[0].ids.size() == 5);
    std::vector<Document> shorty = {{"a", "a", "hello"}, {"tiny", "tiny", "x"}};
    CHECK_THROWS_WITH_AS(tokenize_documents(shorty, fake_encode, 0),
                         doctest::Contains("document tiny is too short to score: 1 token(s)"), Error);
  }

  TEST_CASE("pooled statistics are token-weighted, not a mean of per-document PPLs") {
    std::vector<DocScore> d = {make_doc_score("a", {1.0, 2.0, 3.0}, 1),
                               make_doc_score("b", {0.5}, 1)};
    PooledScore p = pool_documents(d);
    CHECK(p.predictions == 4);
    CHECK(p.ppl == doctest::Approx(std::exp(6.5 / 4)).epsilon(1e-12));
    CHECK(p.accuracy == doctest::Approx(0.5));
    CHECK(d[0].ppl() == doctest::Approx(std::exp(2.0)));
    // the mean of per-document PPLs would be (e^2 + e^0.5) / 2 = 4.52; pooled is e^1.625 = 5.08
    CHECK(std::abs(p.ppl - (d[0].ppl() + d[1].ppl()) / 2) > 0.5);
  }

  TEST_CASE("bootstrap: two documents against the exhaustive resampling distribution") {
    // Resampling 2 documents gives {a,a} (1/4), {a,b} (1/2), {b,b} (1/4): the 2.5% and 97.5%
    // percentiles of many resamples are the extremes PPL(a) and PPL(b).
    std::vector<DocScore> d = {make_doc_score("a", {1.0, 1.0}, 2), make_doc_score("b", {3.0, 3.0}, 0)};
    BootstrapOptions o;
    o.resamples = 4000;
    o.seed = 7;
    PooledScore p = pool_documents(d, o);
    REQUIRE(p.ppl_ci.valid);
    CHECK(p.ppl_ci.lo == doctest::Approx(std::exp(1.0)));
    CHECK(p.ppl_ci.hi == doctest::Approx(std::exp(3.0)));
    CHECK(p.accuracy_ci.lo == doctest::Approx(0.0));
    CHECK(p.accuracy_ci.hi == doctest::Approx(1.0));
    // the share of mixed resamples is close to 1/2 (a check of the generator's uniformity)
    int64_t mixed = 0;
    for (const auto& idx : bootstrap_indices(2, o)) mixed += idx[0] != idx[1];
    CHECK(double(mixed) / o.resamples == doctest::Approx(0.5).epsilon(0.05));
    // seeded: the same seed reproduces the interval, another seed gives other resamples
    std::vector<DocScore> many;
    for (int i = 0; i < 9; ++i) many.push_back(make_doc_score(std::to_string(i), {0.1 * i + 1, 2.0}, i % 2));
    PooledScore p1 = pool_documents(many, o), p2 = pool_documents(many, o);
    CHECK(p1.ppl_ci.lo == p2.ppl_ci.lo);
    CHECK(p1.ppl_ci.hi == p2.ppl_ci.hi);
    CHECK(p1.ppl_ci.lo < p1.ppl);
    CHECK(p1.ppl_ci.hi > p1.ppl);
    o.seed = 8;
    CHECK(bootstrap_indices(9, o) != bootstrap_indices(9, BootstrapOptions{4000, 7, 0.95}));
    // one document: no interval
    CHECK_FALSE(pool_documents({d[0]}).ppl_ci.valid);
  }

  TEST_CASE("percentile matches numpy's linear interpolation") {
    std::vector<double> v = {1, 2, 3, 4};
    CHECK(percentile_sorted(v, 0.0) == 1);
    CHECK(percentile_sorted(v, 1.0) == 4);
    CHECK(percentile_sorted(v, 0.5) == doctest::Approx(2.5));
    CHECK(percentile_sorted(v, 0.025) == doctest::Approx(1.075));  // np.percentile(v, 2.5)
  }

  TEST_CASE("paired differences: zero against itself, sign and pairing otherwise") {
    std::vector<DocScore> ref = {make_doc_score("a", {1.0, 1.0}, 1), make_doc_score("b", {2.0}, 0),
                                 make_doc_score("c", {0.5, 0.7, 0.9}, 2)};
    PairedDifference z = paired_difference(ref, ref, "dense");
    CHECK(z.delta_ppl == 0);
    CHECK(z.delta_ppl_ci.lo == 0);
    CHECK(z.delta_ppl_ci.hi == 0);
    CHECK(z.documents_worse == 0);
    // every document 0.1 nats worse per token: every resample's difference is positive
    std::vector<DocScore> worse = ref;
    for (auto& d : worse) d.nll_sum += 0.1 * d.predictions;
    PairedDifference w = paired_difference(worse, ref, "dense");
    CHECK(w.delta_ppl > 0);
    CHECK(w.delta_ppl_ci.lo > 0);
    CHECK(w.documents_worse == 3);
    CHECK(w.delta_pct == doctest::Approx(100.0 * (std::exp(0.1) - 1)).epsilon(1e-9));
    std::vector<DocScore> other = ref;
    other[1].name = "z";
    CHECK_THROWS_WITH_AS(paired_difference(other, ref, "dense"), doctest::Contains("document 2 differs"), Error);
  }

  TEST_CASE("--nll-out: .npy per the NPY 1.0 format, .h5 readable with the same values") {
    TokenizedDocument a{"a", {5, 6, 7}, 3}, b{"b", {8, 9}, 2};
    std::vector<double> na = {0.25, 1.5}, nb = {2.75};
    NllExport e;
    e.method = "dense";
    e.model = "m";
    e.docs = {&a, &b};
    e.nll = {&na, &nb};
    const std::string bytes = npy_nll_bytes(e);
    REQUIRE(bytes.size() > 10);
    CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
    uint16_t hl;
    std::memcpy(&hl, bytes.data() + 8, 2);
    CHECK((10 + hl) % 64 == 0);
    const std::string header = bytes.substr(10, hl);
    CHECK(header.find("'shape': (3,)") != std::string::npos);
    CHECK(header.back() == '\n');
    REQUIRE(bytes.size() == 10 + hl + 3 * 28);
    const char* rec = bytes.data() + 10 + hl + 2 * 28;  // third record: doc 1, position 1
    int32_t doc;
    int64_t pos, tgt;
    double nll;
    std::memcpy(&doc, rec, 4);
    std::memcpy(&pos, rec + 4, 8);
    std::memcpy(&tgt, rec + 12, 8);
    std::memcpy(&nll, rec + 20, 8);
    CHECK(doc == 1);
    CHECK(pos == 1);
    CHECK(tgt == 9);
    CHECK(nll == 2.75);

    const std::string h5 = tmp("nll.h5");
    write_nll(h5, e);
    H5::H5File f(h5, H5F_ACC_RDONLY);
    std::vector<double> got(3);
    f.openDataSet("nll").read(got.data(), H5::PredType::NATIVE_DOUBLE);
    CHECK(got == std::vector<double>{0.25, 1.5, 2.75});
    std::vector<int64_t> pos_all(3);
    f.openDataSet("position").read(pos_all.data(), H5::PredType::NATIVE_INT64);
    CHECK(pos_all == std::vector<int64_t>{1, 2, 1});
    CHECK_THROWS_AS(check_nll_out_path("x.csv"), Error);
    std::vector<double> bad = {1.0};
    e.nll = {&bad, &nb};
    CHECK_THROWS_AS(npy_nll_bytes(e), Error);
  }

  TEST_CASE("eval over documents: pooled equals the token-weighted sum of single-text runs") {
    // Two documents cut from the bundled text; each evaluated alone with the existing
    // single-text path is the reference for the per-document figures and the pooled PPL.
    const std::string src = headscope::read_file(test::repo("data/pg19-10146.txt"));
    const std::string d1 = tmp("doc1.txt"), d2 = tmp("doc2.txt"), jl = tmp("docs.jsonl");
    test::write_file(d1, src.substr(0, 1500));
    test::write_file(d2, src.substr(20000, 900));
    test::write_file(jl, nlohmann::json({{"text", src.substr(0, 1500)}}).dump() + "\n" +
                             nlohmann::json({{"text", src.substr(20000, 900)}}).dump() + "\n");
    const std::string base = "eval --model " + test::bundled_model() + " --threads 2 --max-tokens 200 ";
    std::vector<double> sums;
    std::vector<int64_t> preds;
    for (const auto& d : {d1, d2}) {
      const std::string out = tmp("single.json");
      test::Run r = test::run(base + "--text " + d + " --json " + out);
      INFO(r.out);
      REQUIRE(r.code == 0);
      auto j = nlohmann::json::parse(headscope::read_file(out));
      preds.push_back(j["predictions"].get<int64_t>());
      sums.push_back(j["mean_nll"].get<double>() * preds.back());
    }
    const double pooled = std::exp((sums[0] + sums[1]) / double(preds[0] + preds[1]));
    for (const std::string& how : {"--text " + d1 + " --text " + d2, "--dataset " + jl}) {
      const std::string out = tmp("multi.json"), npy = tmp("multi.npy");
      test::Run r = test::run(base + how + " --json " + out + " --nll-out " + npy);
      INFO(r.out);
      REQUIRE(r.code == 0);
      CHECK(r.out.find("pooled (token-weighted)") != std::string::npos);
      CHECK(r.out.find("95% interval over 2 documents") != std::string::npos);
      auto j = nlohmann::json::parse(headscope::read_file(out));
      REQUIRE(j["documents"].size() == 2);
      CHECK(j["pooled"]["perplexity"].get<double>() == doctest::Approx(pooled).epsilon(1e-9));
      CHECK(j["pooled"]["predictions"] == preds[0] + preds[1]);
      CHECK(j["documents"][1]["nll_sum"].get<double>() == doctest::Approx(sums[1]).epsilon(1e-9));
      CHECK(j["pooled"]["perplexity_ci95"].is_array());
      CHECK(fs::file_size(npy) > size_t(28 * (preds[0] + preds[1])));
    }
    // a method against dense: paired difference printed and in JSON
    const std::string out = tmp("multi_method.json");
    test::Run r = test::run(base + "--text " + d1 + " --text " + d2 +
                            " --method recent_only --window 16 --json " + out);
    INFO(r.out);
    REQUIRE(r.code == 0);
    auto j = nlohmann::json::parse(headscope::read_file(out));
    CHECK(j["paired_vs_dense"]["delta_perplexity"].get<double>() ==
          doctest::Approx(j["pooled"]["perplexity"].get<double>() - pooled).epsilon(1e-6));
    CHECK(r.out.find("vs dense: dPPL +") != std::string::npos);
  }

  TEST_CASE("bad document input: one-line errors") {
    const std::string base = "eval --model " + test::bundled_model() + " --threads 2 ";
    const std::string empty_dir = tmp("cli_empty");
    fs::create_directories(empty_dir);
    expect_one_line_error(base + "--dataset " + empty_dir, "no .txt files");
    const std::string jl = tmp("nofield.jsonl");
    test::write_file(jl, "{\"text\": \"Some words here.\"}\n{\"body\": \"x\"}\n");
    expect_one_line_error(base + "--dataset " + jl, "line 2: no field 'text'");
    const std::string tiny = tmp("tiny.txt");
    test::write_file(tiny, "a");
    expect_one_line_error(base + "--text " + tiny, "too short to score");
    expect_one_line_error(base + "--max-docs 2", "no documents");
    expect_one_line_error(base + "--text " + tiny + " --nll-out x.csv", "must end in .npy");
    expect_one_line_error(base + "--text " + tiny + " --context 8", "--context and --stride go together");
    expect_one_line_error(base + "--text " + tiny + " --context 8 --stride 9", "--stride must be in [1, --context - 1]");
  }
}

TEST_SUITE("datasets") {
  TEST_CASE("analyze over documents: chunk-weighted pooling of single-document runs, per-document stability") {
    const std::string src = headscope::read_file(test::repo("data/pg19-10146.txt"));
    const std::string dir = tmp("an_docs");
    test::remove_tree(dir);
    fs::create_directories(dir);
    test::write_file(dir + "/a.txt", src.substr(0, 2500));
    test::write_file(dir + "/b.txt", src.substr(40000, 1800));
    const std::string base = "analyze --model " + test::bundled_model() + " --threads 2 --max-tokens 256 --chunk-size 128 ";
    std::vector<nlohmann::json> single;
    for (const char* d : {"a", "b"}) {
      const std::string out = tmp(std::string("an_") + d);
      test::Run r = test::run(base + "--text " + dir + "/" + d + ".txt --out " + out);
      INFO(r.out);
      REQUIRE(r.code == 0);
      single.push_back(nlohmann::json::parse(headscope::read_file(out + "/head_statistics.json")));
    }
    const std::string out = tmp("an_pooled");
    test::Run r = test::run(base + "--dataset " + dir + " --out " + out);
    INFO(r.out);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("per-document stability (documents agreeing with the pooled type, of 2") != std::string::npos);
    auto pooled = nlohmann::json::parse(headscope::read_file(out + "/head_statistics.json"));
    auto stab = nlohmann::json::parse(headscope::read_file(out + "/document_stability.json"));
    REQUIRE(stab["heads"].size() == pooled["head_statistics"].size());
    // both documents have 2 chunks of 128 tokens: the pooled mean is the mean of the two
    for (size_t h = 0; h < pooled["head_statistics"].size(); ++h) {
      const double e = pooled["head_statistics"][h]["mean_entropy"].get<double>();
      const double ref = (single[0]["head_statistics"][h]["mean_entropy"].get<double>() +
                          single[1]["head_statistics"][h]["mean_entropy"].get<double>()) / 2;
      CHECK(e == doctest::Approx(ref).epsilon(1e-5));
      const double s = stab["heads"][h]["document_stability"].get<double>();
      CHECK((s == 0.0 || s == 0.5 || s == 1.0));
    }
  }
}
