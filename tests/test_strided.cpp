// Strided perplexity (eval/strided_eval.h) against two references: a brute-force evaluation
// that, for every target, runs a fresh forward pass over exactly the window that scores it; and
// the loop of Hugging Face's perplexity guide, written out literally, for which tokens each
// window scores. Plus the mask engine inside windows and the CLI.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/error.h"
#include "eval/parallel_eval.h"
#include "eval/strided_eval.h"
#include "model/tokenizer.h"
#include "tests/cli_runner.h"
#include "tests/support.h"

using namespace headscope;

namespace {

// Hugging Face, "Perplexity of fixed-length models":
//   for begin_loc in range(0, seq_len, stride):
//       end_loc = min(begin_loc + max_length, seq_len)
//       trg_len = end_loc - prev_end_loc
//       input_ids = ids[begin_loc:end_loc]; target_ids = input_ids.clone()
//       target_ids[:-trg_len] = -100            # and the model shifts labels by one
//       prev_end_loc = end_loc
//       if end_loc == seq_len: break
// Returns, per window, the set of absolute target positions with a valid label after the shift.
std::vector<std::pair<int64_t, std::set<int64_t>>> hf_scored(int64_t seq_len, int64_t max_length, int64_t stride) {
  std::vector<std::pair<int64_t, std::set<int64_t>>> out;
  int64_t prev_end_loc = 0;
  for (int64_t begin_loc = 0; begin_loc < seq_len; begin_loc += stride) {
    const int64_t end_loc = std::min(begin_loc + max_length, seq_len);
    const int64_t trg_len = end_loc - prev_end_loc;
    const int64_t L = end_loc - begin_loc;
    std::set<int64_t> s;
    for (int64_t i = 1; i < L; ++i)              // label i is predicted from position i-1
      if (i >= L - trg_len) s.insert(begin_loc + i);  // not masked to -100
    out.push_back({begin_loc, s});
    prev_end_loc = end_loc;
    if (end_loc == seq_len) break;
  }
  return out;
}

std::vector<int64_t> bundled_ids(int64_t n) {
  Tokenizer tok = Tokenizer::load(test::bundled_model());
  auto ids = tok.encode(read_file(test::repo("data/pg19-10146.txt")).substr(0, 4000));
  ids.resize(n);
  return ids;
}

}  // namespace

TEST_SUITE("strided") {
  TEST_CASE("windows score exactly what Hugging Face's guide scores") {
    for (auto [n, ctx, s] : std::vector<std::array<int64_t, 3>>{
             {100, 16, 8}, {100, 16, 15}, {100, 16, 1}, {17, 16, 5}, {16, 16, 4}, {5, 16, 3}, {101, 32, 7}}) {
      INFO(n << " " << ctx << " " << s);
      auto w = strided_windows(n, ctx, s);
      auto hf = hf_scored(n, ctx, s);
      REQUIRE(w.size() == hf.size());
      std::vector<int64_t> all;
      for (size_t i = 0; i < w.size(); ++i) {
        CHECK(w[i].begin == hf[i].first);
        std::set<int64_t> mine;
        for (int64_t t = w[i].first_target; t < w[i].end; ++t) mine.insert(t), all.push_back(t);
        CHECK(mine == hf[i].second);
        if (i > 0) CHECK(w[i].end - w[i].first_target <= s);  // each window: its last S tokens at most
      }
      std::vector<int64_t> expect(n - 1);
      for (int64_t t = 1; t < n; ++t) expect[t - 1] = t;
      CHECK(all == expect);  // every token 1..N-1 exactly once, in order
    }
    CHECK_THROWS_AS(strided_windows(10, 8, 9), Error);
    CHECK_THROWS_AS(strided_windows(100, 16, 16), Error);  // disjoint windows: first tokens unscored
    CHECK_THROWS_AS(strided_windows(10, 1, 1), Error);
    CHECK_THROWS_AS(strided_windows(10, 8, 0), Error);
  }

  TEST_CASE("strided NLLs equal a brute-force fresh forward per target (dense and mask)") {
    Model m = Model::load(test::bundled_model());
    const auto ids = bundled_ids(70);
    const int64_t ctx = 24, stride = 10;
    auto windows = strided_windows(70, ctx, stride);
    // a per-head policy: layer 0 windowed with a sink, the rest full
    const auto& c = m.config();
    Visibility vis(c.num_layers, c.num_heads);
    for (int64_t h = 0; h < c.num_heads; ++h) vis.at(0, h) = HeadWindow{2, 5};
    for (const Visibility* v : {static_cast<const Visibility*>(nullptr), static_cast<const Visibility*>(&vis)}) {
      StridedEvalOptions o;
      o.context = ctx;
      o.stride = stride;
      o.visibility = v;
      EvalResult r = evaluate_strided(m, ids, o);
      REQUIRE(r.nll.size() == 69);
      double max_diff = 0;
      for (int64_t t = 1; t < 70; ++t) {
        const auto& w = *std::find_if(windows.begin(), windows.end(),
                                      [&](const StridedWindow& x) { return t >= x.first_target && t < x.end; });
        // brute force: a fresh forward over ids[w.begin .. t] (the window cut at the target)
        std::vector<int64_t> sub(ids.begin() + w.begin, ids.begin() + t + 1);
        ParallelEvalOptions po;
        po.visibility = v;
        EvalResult b = evaluate_parallel(m, sub, po);
        max_diff = std::max(max_diff, std::abs(b.nll.back() - r.nll[t - 1]));
      }
      INFO("policy " << (v ? "mask" : "dense") << " max |dNLL| " << max_diff);
      CHECK(max_diff < 1e-4);
      // context == N: one window, the plain parallel evaluation
      StridedEvalOptions one = o;
      one.context = 70;
      one.stride = 69;
      ParallelEvalOptions po;
      po.visibility = v;
      CHECK(evaluate_strided(m, ids, one).ppl == doctest::Approx(evaluate_parallel(m, ids, po).ppl).epsilon(1e-6));
    }
  }

  TEST_CASE("eval --context --stride on the CLI") {
    const std::string out = test::temp_path("strided", "s.json");
    test::Run r = test::run("eval --model " + test::bundled_model() + " --text " +
                            test::repo("data/pg19-10146.txt") +
                            " --max-tokens 300 --threads 2 --context 128 --stride 64 --json " + out);
    INFO(r.out);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("strided: windows of 128 tokens every 64") != std::string::npos);
    auto j = nlohmann::json::parse(read_file(out));
    CHECK(j["windows"] == 4);  // begins 0, 64, 128, 192 (ends at 300)
    CHECK(j["predictions"] == 299);
    // a window as long as the text is the plain dense evaluation
    test::Run full = test::run("eval --model " + test::bundled_model() + " --text " +
                               test::repo("data/pg19-10146.txt") + " --max-tokens 300 --threads 2 --json " + out);
    REQUIRE(full.code == 0);
    const double dense = nlohmann::json::parse(read_file(out))["perplexity"].get<double>();
    CHECK(j["perplexity"].get<double>() > dense);  // less context per token
    test::Run bad = test::run("eval --model " + test::bundled_model() + " --text " +
                              test::repo("data/pg19-10146.txt") + " --context 64 --stride 32 --method l2");
    CHECK(bad.code != 0);
    CHECK(bad.out.find("apply to the parallel dense engine") != std::string::npos);
  }
}
