// Dense evaluation of book 10146 (LF) against the float64 reference and transformers:
// PPL within 1e-4 relative, accuracy exact; token count of the whole book.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/text.h"
#include "eval/parallel_eval.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "tests/support.h"

using namespace headscope;

namespace {

std::vector<int64_t> book_tokens(const std::string& model_dir) {
  std::string text = load_text(test::repo("data/pg19-10146.txt"), Newlines::LF);
  return Tokenizer::load(model_dir).encode(text);
}

void check_dense(const std::string& name) {
  const std::string dir = test::shared("models/" + name);
  auto ref = nlohmann::json::parse(read_file(test::shared("fixtures/" + name + "/reference_values_f64.json")));
  Model m = Model::load(dir);
  std::vector<int64_t> ids = book_tokens(dir);
  CHECK(static_cast<int64_t>(ids.size()) == ref["total_tokens"].get<int64_t>());
  for (int n : {128, 256, 512}) {
    std::vector<int64_t> first(ids.begin(), ids.begin() + n);
    EvalResult r = evaluate_parallel(m, first);
    const auto& e = ref["dense_first" + std::to_string(n)];
    double rel = std::abs(r.ppl / e["ppl"].get<double>() - 1.0);
    MESSAGE(name << " first" << n << ": ppl " << r.ppl << " ref " << e["ppl"].get<double>() << " rel " << rel);
    CHECK(rel < 1e-4);
    CHECK(r.accuracy == doctest::Approx(e["acc"].get<double>()).epsilon(1e-12));
  }
}

}  // namespace

TEST_SUITE("fixture_eval") {
  TEST_CASE("dense PPL/accuracy, neox-gutenberg-14m, vs float64 reference") { check_dense("neox-gutenberg-14m"); }
  TEST_CASE("dense PPL/accuracy, neox-gutenberg-70m, vs float64 reference") { check_dense("neox-gutenberg-70m"); }
  TEST_CASE("dense PPL/accuracy on 1024/2048 tokens vs transformers (reference_eval.json)") {
    const std::string dir = test::shared("models/neox-gutenberg-14m");
    auto ref = nlohmann::json::parse(read_file(test::shared("fixtures/neox-gutenberg-14m/reference_eval.json")));
    Model m = Model::load(dir);
    std::vector<int64_t> ids = book_tokens(dir);
    for (int n : {1024, 2048}) {
      std::vector<int64_t> first(ids.begin(), ids.begin() + n);
      EvalResult r = evaluate_parallel(m, first);
      const auto& e = ref["dense_pg19_10146_first" + std::to_string(n)];
      CHECK(std::abs(r.ppl / e["ppl"].get<double>() - 1.0) < 1e-4);
      CHECK(r.accuracy == doctest::Approx(e["acc"].get<double>()).epsilon(1e-12));
    }
    std::string wiki = load_text(test::repo("data/wikitext2-test.txt"), Newlines::LF);
    CHECK(static_cast<int64_t>(Tokenizer::load(dir).encode(wiki).size()) ==
          ref["tokens"]["wikitext2_test"].get<int64_t>());
  }
}
