// The prefill protocol (eval/prefill_eval.h) and the prefill presses (compress/prefill_press.h)
// against independent references, on the bundled 14m model:
//  - no compression: the continuation's NLLs equal the parallel dense forward's;
//  - every press: the decode over the compressed, ragged cache equals ONE parallel forward over
//    the whole text with a per-head boolean mask (a continuation query sees the kept context
//    entries of its head and every continuation token), the kept sets taken from the same press;
//  - the scores: SnapKV, TOVA, H2O and AdaKV against naive float64 loops on random tensors
//    (grouped query heads included), and the kvpress budget rule;
//  - the CLI: results name the protocol; bad input is one line and a non-zero exit.
#include <doctest/doctest.h>

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/text.h"
#include "compress/prefill_press.h"
#include "eval/parallel_eval.h"
#include "eval/prefill_eval.h"
#include "model/model.h"
#include "model/parallel_attention.h"
#include "model/tokenizer.h"
#include "tests/cli_runner.h"
#include "tests/support.h"

using namespace headscope;

namespace {

std::vector<int64_t> text_ids(const Model& m, int64_t n) {
  std::string text = load_text(test::repo("data/pg19-10146.txt"), Newlines::LF);
  text.resize(6000);
  std::vector<int64_t> ids = Tokenizer::load(m.dir()).encode(text);
  REQUIRE(int64_t(ids.size()) >= n);
  ids.resize(size_t(n));
  return ids;
}

// Reference: one parallel forward over all M tokens. Context queries (i < N) attend causally
// over everything; a continuation query i >= N of head h sees the context keys the press keeps
// for h's KV head (selected from the same prefill q/k/v) and every token in [N, i].
std::vector<double> masked_reference(const Model& model, const std::vector<int64_t>& ids, int64_t N,
                                     const PrefillPress* press) {
  c10::InferenceMode guard;
  const int64_t M = int64_t(ids.size());
  auto lopt = at::TensorOptions().dtype(at::kLong);
  at::Tensor pos = at::arange(M, lopt);
  AttentionFn attend = [&](int64_t l, QKV& x) -> at::Tensor {
    at::Tensor q = model.rotate(x.q, pos), k = model.rotate(x.k, pos);
    const int64_t Hq = q.size(0), Hkv = k.size(0), g = Hq / Hkv;
    at::Tensor mask = at::ones({M, M}, at::TensorOptions().dtype(at::kBool)).tril().repeat({Hq, 1, 1});
    if (press) {
      PrefillLayerView v;
      v.layer = l;
      v.queries = q.narrow(1, 0, N);
      v.keys = k.narrow(1, 0, N);
      v.values = x.v.narrow(1, 0, N);
      if (press->needs_accumulated_attention()) {
        at::Tensor s = at::matmul(v.queries.reshape({Hkv, g * N, -1}), v.keys.transpose(-1, -2))
                           .reshape({Hq, N, N}) / std::sqrt(double(q.size(-1)));
        s.masked_fill_(at::ones({N, N}, at::TensorOptions().dtype(at::kBool)).triu(1), -INFINITY);
        v.accumulated_attention = at::softmax(s, -1).sum(1);
      }
      auto keep = press->select(v);
      for (int64_t h = 0; h < Hq; ++h) {
        std::set<int64_t> kept(keep[h / g].begin(), keep[h / g].end());
        for (int64_t j = 0; j < N; ++j)
          if (!kept.count(j)) mask[h].narrow(0, N, M - N).select(1, j).fill_(false);
      }
    }
    at::Tensor kk = k.repeat_interleave(g, 0), vv = x.v.repeat_interleave(g, 0);
    return masked_attention(q, kk, vv, mask);
  };
  at::Tensor ids_t = at::tensor(ids, lopt);
  at::Tensor hidden = model.forward_hidden(ids_t, attend);
  TokenScores sc = model.score(hidden.narrow(0, N - 1, M - N), ids_t.narrow(0, N, M - N));
  std::vector<double> out(size_t(M - N));
  for (int64_t i = 0; i < M - N; ++i) out[i] = sc.nll[i].item<double>();
  return out;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

// Naive float64 SnapKV score of one KV head group: loops over window queries, keys, heads.
std::vector<std::vector<double>> naive_snapkv(const at::Tensor& q, const at::Tensor& k, int64_t w, int64_t ks) {
  const int64_t Hq = q.size(0), N = k.size(1), D = k.size(2), Hkv = k.size(0), g = Hq / Hkv;
  const at::Tensor qd = q.to(at::kDouble), kd = k.to(at::kDouble);
  auto qa = qd.accessor<double, 3>();
  auto ka = kd.accessor<double, 3>();
  std::vector<std::vector<double>> per_q(size_t(Hq), std::vector<double>(size_t(N - w), 0.0));
  for (int64_t h = 0; h < Hq; ++h)
    for (int64_t i = N - w; i < N; ++i) {
      std::vector<double> s(size_t(i + 1));
      double mx = -1e300, z = 0;
      for (int64_t j = 0; j <= i; ++j) {
        double d = 0;
        for (int64_t c = 0; c < D; ++c) d += qa[h][i][c] * ka[h / g][j][c];
        s[j] = d / std::sqrt(double(D));
        mx = std::max(mx, s[j]);
      }
      for (auto& x : s) z += std::exp(x - mx);
      for (int64_t j = 0; j < N - w; ++j) per_q[h][j] += std::exp(s[j] - mx) / z / double(w);
    }
  std::vector<std::vector<double>> out(size_t(Hkv), std::vector<double>(size_t(N), 0.0));
  for (int64_t h = 0; h < Hq; ++h)
    for (int64_t j = 0; j < N - w; ++j) {
      double acc = 0;
      for (int64_t o = -ks / 2; o <= ks / 2; ++o)
        if (j + o >= 0 && j + o < N - w) acc += per_q[h][j + o];
      out[h / g][j] += acc / double(ks) / double(g);
    }
  double mx = -1;
  for (auto& r : out)
    for (int64_t j = 0; j < N - w; ++j) mx = std::max(mx, r[j]);
  for (auto& r : out)
    for (int64_t j = N - w; j < N; ++j) r[j] = mx + 1;
  return out;
}

PrefillLayerView random_view(int64_t Hq, int64_t Hkv, int64_t N, int64_t D, uint64_t seed) {
  at::manual_seed(seed);
  PrefillLayerView v;
  v.queries = at::randn({Hq, N, D}) * 2.0;
  v.keys = at::randn({Hkv, N, D});
  v.values = at::randn({Hkv, N, D});
  return v;
}

std::string tmp(const std::string& name) { return test::temp_path("prefill", name); }
const std::string kBase = " --model " + test::bundled_model() + " --text " +
                          test::repo("data/pg19-10146.txt") + " --threads 1";

}  // namespace

TEST_SUITE("prefill") {
  TEST_CASE("budget is kvpress's int(N * (1 - ratio)); bad ratios and presses are refused") {
    auto p = make_knorm_press(0.3);
    CHECK(p->budget(100) == 70);
    CHECK(p->budget(101) == 70);
    CHECK(make_knorm_press(0.5)->budget(7) == 3);
    MethodOptions o;
    for (double bad : {0.0, 1.0, -0.1, 1.5, std::nan("")}) {
      o.set("compression-ratio", bad);
      CHECK_THROWS_AS(make_prefill_press("snapkv", o), Error);
    }
    o.set("compression-ratio", 0.5);
    CHECK_THROWS_AS(make_prefill_press("pyramidkv", o), Error);
    o.set("adakv-press", std::string("adakv"));
    CHECK_THROWS_AS(make_prefill_press("adakv", o), Error);
    CHECK_THROWS_AS(make_snapkv_press(0.5, 64, 4), Error);
    CHECK_THROWS_AS(make_snapkv_press(0.5, 64, 5)->check_context(64), Error);
    CHECK_NOTHROW(make_snapkv_press(0.5, 64, 5)->check_context(65));
  }

  TEST_CASE("SnapKV and TOVA scores equal naive float64 loops (GQA 4:2)") {
    PrefillLayerView v = random_view(4, 2, 40, 8, 7);
    auto snap = make_snapkv_press(0.5, 6, 5);
    at::Tensor s = snap->score(v);
    auto ref = naive_snapkv(v.queries, v.keys, 6, 5);
    double d = 0;
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t j = 0; j < 40; ++j) d = std::max(d, std::abs(s[h][j].item<double>() - ref[h][j]));
    CHECK(d < 1e-6);
    // TOVA = window of 1, averaged over all query heads, the same for every KV head.
    at::Tensor t = make_tova_press(0.5)->score(v);
    auto r1 = naive_snapkv(v.queries, v.keys, 1, 1);  // per KV head: mean over its 2 query heads
    for (int64_t j = 0; j < 39; ++j) {
      const double want = 0.5 * (r1[0][j] + r1[1][j]);
      CHECK(std::abs(t[0][j].item<double>() - want) < 1e-6);
      CHECK(t[1][j].item<double>() == t[0][j].item<double>());
    }
    CHECK(std::abs(t[0][39].item<double>() - (t.narrow(1, 0, 39).max().item<double>() + 1)) < 1e-5);
  }

  TEST_CASE("H2O keeps the recent share and the heaviest hitters; AdaKV shares the layer budget") {
    const int64_t N = 30, H = 2;
    PrefillLayerView v = random_view(H, H, N, 4, 3);
    at::manual_seed(5);
    v.accumulated_attention = at::rand({H, N});
    auto h2o = make_h2o_press(0.5, 0.4);  // budget 15: 6 recent + 9 heavy
    auto keep = h2o->select(v);
    for (int64_t h = 0; h < H; ++h) {
      REQUIRE(keep[h].size() == 15);
      std::vector<std::pair<float, int64_t>> old;
      for (int64_t j = 0; j < N - 6; ++j) old.push_back({v.accumulated_attention[h][j].item<float>(), j});
      std::sort(old.rbegin(), old.rend());
      std::set<int64_t> want;
      for (int i = 0; i < 9; ++i) want.insert(old[i].second);
      for (int64_t j = N - 6; j < N; ++j) want.insert(j);
      CHECK(std::set<int64_t>(keep[h].begin(), keep[h].end()) == want);
    }
    // AdaKV over knorm: brute force over the flattened layer.
    auto ada = make_adakv_press(make_knorm_press(0.6), 0.2);  // n_kept 12, n_safe 2, prune 36
    at::Tensor sc = make_knorm_press(0.6)->score(v);
    std::vector<std::tuple<float, int64_t, int64_t>> all;
    for (int64_t h = 0; h < H; ++h) {
      std::vector<std::pair<float, int64_t>> row;
      for (int64_t j = 0; j < N; ++j) row.push_back({sc[h][j].item<float>(), j});
      std::sort(row.rbegin(), row.rend());
      for (int64_t j = 0; j < N; ++j) {
        bool safe = row[0].second == j || row[1].second == j;
        all.push_back({safe ? 1e30f : sc[h][j].item<float>(), h, j});
      }
    }
    std::sort(all.begin(), all.end());
    std::vector<std::set<int64_t>> want(H);
    for (size_t i = 36; i < all.size(); ++i) want[std::get<1>(all[i])].insert(std::get<2>(all[i]));
    auto got = ada->select(v);
    size_t total = 0;
    for (int64_t h = 0; h < H; ++h) {
      CHECK(std::set<int64_t>(got[h].begin(), got[h].end()) == want[h]);
      CHECK(got[h].size() >= 2);
      total += got[h].size();
    }
    CHECK(total == 24);
  }

  TEST_CASE("prefill protocol equals a parallel masked forward for every press") {
    at::set_num_threads(1);
    Model model = Model::load(test::bundled_model());
    const int64_t M = 200, N = 150;
    std::vector<int64_t> ids = text_ids(model, M);
    PrefillEvalOptions o;
    o.context_tokens = N;
    // no compression: the dense parallel forward's NLLs
    PrefillResult dense = evaluate_prefill(model, ids, o);
    EvalResult par = evaluate_parallel(model, ids);
    CHECK(dense.to_json()["protocol"] == "prefill");
    CHECK(dense.eval.nll.size() == size_t(M - N));
    CHECK(max_abs_diff(dense.eval.nll, std::vector<double>(par.nll.begin() + (N - 1), par.nll.end())) < 1e-4);
    for (const PressInfo* info : presses()) {
      const std::string m = info->name;
      for (const std::string& inner : m == "adakv" ? std::vector<std::string>{"snapkv", "h2o"}
                                                   : std::vector<std::string>{""}) {
        MethodOptions po;
        po.set("compression-ratio", 0.6);
        if (m == "snapkv" || inner == "snapkv") po.set("window-size", int64_t(16));
        if (!inner.empty()) po.set("adakv-press", inner);
        auto press = make_prefill_press(m, po);
        o.press = press.get();
        PrefillResult r = evaluate_prefill(model, ids, o);
        INFO(m << " " << inner);
        CHECK(r.kept_entries == 6 * 4 * 60);
        if (m != "adakv")
          for (int64_t n : r.kept_per_layer) CHECK(n == 4 * 60);
        CHECK(max_abs_diff(r.eval.nll, masked_reference(model, ids, N, press.get())) < 1e-4);
        CHECK(r.eval.ppl > dense.eval.ppl * 0.8);
      }
    }
    // a per-step compressor applied once: streaming_llm with sizes = the press at that budget
    auto c = make_streaming_llm(4, 56);
    auto p = make_streaming_llm_press(0.6, 4);
    o.press = nullptr;
    o.compressor = c.get();
    PrefillResult a = evaluate_prefill(model, ids, o);
    o.compressor = nullptr;
    o.press = p.get();
    PrefillResult b = evaluate_prefill(model, ids, o);
    CHECK(max_abs_diff(a.eval.nll, b.eval.nll) < 1e-9);
    o.context_tokens = M;
    CHECK_THROWS_AS(evaluate_prefill(model, ids, o), Error);
  }

  TEST_CASE("CLI: results name the protocol; bad input is one line") {
    const std::string out = tmp("snap.json");
    std::filesystem::remove(out);
    test::Run r = test::run("eval" + kBase + " --max-tokens 160 --protocol prefill --context-tokens 128 "
                            "--method snapkv --compression-ratio 0.5 --window-size 16 --json " + out);
    INFO(r.out);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("protocol   prefill") != std::string::npos);
    auto j = nlohmann::json::parse(read_file(out));
    CHECK(j["protocol"] == "prefill");
    CHECK(j["method"] == "snapkv");
    CHECK(j["context_tokens"] == 128);
    CHECK(j["predictions"] == 32);
    CHECK(j["kept_entries"] == 6 * 4 * 64);
    CHECK(j["compressor"]["window_size"] == 16);
    test::Run s = test::run("eval" + kBase + " --max-tokens 60 --method recent_only --window 16");
    CHECK(s.code == 0);
    CHECK(s.out.find("protocol   step") != std::string::npos);

    const std::string bad = tmp("bad.json");
    for (const std::string& args :
         {std::string(" --protocol prefill --context-tokens 64 --method knorm --compression-ratio 1.0"),
          std::string(" --protocol prefill --context-tokens 64 --method knorm --compression-ratio 0"),
          std::string(" --protocol prefill --context-tokens 500 --method knorm --compression-ratio 0.5"),
          std::string(" --protocol prefill --context-tokens 64 --method fancy --compression-ratio 0.5"),
          std::string(" --protocol prefill --context-tokens 64 --method snapkv"),
          std::string(" --protocol prefill --method tova --compression-ratio 0.5"),
          std::string(" --method snapkv --compression-ratio 0.5"),
          std::string(" --method l2 --context-tokens 64")}) {
      test::Run e = test::run("eval" + kBase + " --max-tokens 100" + args + " --json " + bad);
      INFO(args << "\n" << e.out);
      CHECK(e.code != 0);
      CHECK(e.out.rfind("headscope: error: ", 0) == 0);
      CHECK(std::count(e.out.begin(), e.out.end(), '\n') == 1);
      CHECK(!std::filesystem::exists(bad));
    }
  }
}
