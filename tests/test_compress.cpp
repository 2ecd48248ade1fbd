// Compressors and the KV cache on hand-made caches: the exact slots each rule keeps, per head;
// that keys and values move together; bad parameters; that a compressed cache releases memory.
#include <doctest/doctest.h>

#include <c10/core/InferenceMode.h>

#include "common/error.h"
#include "compress/compressor.h"
#include "eval/decode_eval.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "tests/support.h"

using namespace headscope;

namespace {

using Pos = std::vector<int64_t>;

// Key of (layer l, head h, token t) = [norm(l, h, t), 0, 0, 0]; value = [t, h, l, 1].
// norm_fn gives the key norm.
template <class F>
KVCache make_cache(int64_t layers, int64_t heads, int64_t tokens, F norm_fn) {
  KVCache c(layers, heads, 4, at::kCPU, at::kFloat, false, 4);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t l = 0; l < layers; ++l) {
      at::Tensor k = at::zeros({heads, 1, 4}), v = at::zeros({heads, 1, 4});
      for (int64_t h = 0; h < heads; ++h) {
        k[h][0][0] = norm_fn(l, h, t);
        v[h][0][0] = double(t);
        v[h][0][1] = double(h);
        v[h][0][2] = double(l);
        v[h][0][3] = 1.0;
      }
      c.append(l, k, v, t);
    }
  return c;
}

KVCache plain_cache(int64_t layers, int64_t heads, int64_t tokens) {
  return make_cache(layers, heads, tokens, [](int64_t, int64_t, int64_t t) { return 1.0 + double(t); });
}

// The slot contents must be the tokens the cache says it holds (keys and values moved together).
void check_consistent(const KVCache& c, const std::function<double(int64_t, int64_t, int64_t)>& norm) {
  for (int64_t l = 0; l < c.layers(); ++l) {
    at::Tensor k = c.keys(l), v = c.values(l);
    for (int64_t h = 0; h < c.heads(); ++h) {
      const auto& pos = c.positions(l, h);
      REQUIRE((int64_t)pos.size() == c.length(l, h));
      for (size_t s = 0; s < pos.size(); ++s) {
        CHECK(v[h][s][0].item<double>() == double(pos[s]));
        CHECK(v[h][s][1].item<double>() == double(h));
        CHECK(k[h][s][0].item<double>() == doctest::Approx(norm(l, h, pos[s])));
      }
    }
  }
}

Pos range(int64_t a, int64_t b) {
  Pos p;
  for (int64_t i = a; i < b; ++i) p.push_back(i);
  return p;
}
Pos cat(Pos a, const Pos& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_SUITE("compress") {
  TEST_CASE("streaming_llm keeps the sinks and the last recent_size entries") {
    c10::InferenceMode g;
    auto norm = [](int64_t, int64_t, int64_t t) { return 1.0 + double(t); };
    KVCache c = plain_cache(2, 3, 12);
    auto s = make_streaming_llm(2, 5);
    s->compress(c, 12);
    for (int64_t l = 0; l < 2; ++l)
      for (int64_t h = 0; h < 3; ++h) CHECK(c.positions(l, h) == Pos{0, 1, 7, 8, 9, 10, 11});
    check_consistent(c, norm);
    // within the budget nothing changes
    KVCache small = plain_cache(1, 2, 7);
    s->compress(small, 7);
    CHECK(small.positions(0, 1) == range(0, 7));
    // skip_layers: layer 1 keeps everything
    KVCache c2 = plain_cache(2, 3, 12);
    MethodOptions o;
    o.set("start-size", int64_t(2));
    o.set("recent-size", int64_t(5));
    o.skip_layers = {1};
    auto s2 = make_compressor("streaming_llm", o);
    s2->compress(c2, 12);
    CHECK(c2.positions(0, 0) == Pos{0, 1, 7, 8, 9, 10, 11});
    CHECK(c2.positions(1, 2) == range(0, 12));
    // step by step (as in decoding): after every append the cache is back at 7 entries
    KVCache c3 = plain_cache(1, 1, 0);
    for (int64_t t = 0; t < 20; ++t) {
      at::Tensor k = at::full({1, 1, 4}, 1.0 + double(t)), v = at::full({1, 1, 4}, double(t));
      c3.append(0, k, v, t);
      s->compress(c3, t + 1);
    }
    CHECK(c3.positions(0, 0) == Pos{0, 1, 15, 16, 17, 18, 19});
    CHECK(c3.values(0)[0][2][0].item<double>() == 15.0);
  }

  TEST_CASE("recent_only keeps the last window entries") {
    c10::InferenceMode g;
    KVCache c = plain_cache(1, 2, 10);
    make_recent_only(4)->compress(c, 10);
    CHECK(c.positions(0, 0) == Pos{6, 7, 8, 9});
    CHECK(c.positions(0, 1) == Pos{6, 7, 8, 9});
    check_consistent(c, [](int64_t, int64_t, int64_t t) { return 1.0 + double(t); });
  }

  TEST_CASE("l2 keeps ceil(r*n) lowest-norm keys per head, in temporal order") {
    c10::InferenceMode g;
    // head 0: norms decrease with t (recent tokens kept); head 1: norms t%5 pattern.
    auto norm = [](int64_t l, int64_t h, int64_t t) {
      if (h == 0) return 100.0 - double(t) + 10.0 * double(l);
      return 1.0 + double((t * 3) % 7) + 0.01 * double(t);
    };
    KVCache c = make_cache(2, 2, 9, norm);
    auto k = make_l2(0.5, 6, "every");
    k->compress(c, 9);
    // n = 9 > 6: keep ceil(4.5) = 5
    CHECK(c.positions(0, 0) == Pos{4, 5, 6, 7, 8});
    // head 1 norms (t*3)%7 for t=0..8: 0,3,6,2,5,1,4,0,3 (+0.01 t): lowest five are
    // t=0 (0), t=7 (0.07), t=5 (1.05), t=3 (2.03), t=1 (3.01)
    CHECK(c.positions(0, 1) == Pos{0, 1, 3, 5, 7});
    CHECK(c.positions(1, 1) == Pos{0, 1, 3, 5, 7});
    check_consistent(c, norm);
    // every step: the next compression happens again at length 7 (> 6): ceil(0.5*7) = 4
    at::Tensor kk = at::full({2, 1, 4}, 0.5), vv = at::zeros({2, 1, 4});
    for (int64_t l = 0; l < 2; ++l) c.append(l, kk, vv, 9);
    k->compress(c, 10);
    CHECK(c.length(0, 0) == 6);  // 6 <= prune_after: untouched
    for (int64_t l = 0; l < 2; ++l) c.append(l, kk, vv, 10);
    k->compress(c, 11);
    CHECK(c.length(0, 0) == 4);
    CHECK(c.positions(0, 0) == Pos{7, 8, 9, 10});  // the two new keys have norm 1 (0.5 * 2)
    // keep_ratio 1 never compresses
    KVCache c2 = make_cache(1, 2, 9, norm);
    make_l2(1.0, 0, "every")->compress(c2, 9);
    CHECK(c2.length(0, 1) == 9);
  }

  TEST_CASE("l2 once compresses each layer a single time") {
    c10::InferenceMode g;
    auto norm = [](int64_t, int64_t, int64_t t) { return 100.0 - double(t); };
    KVCache c = make_cache(1, 1, 8, norm);
    auto k = make_l2(0.5, 4, "once");
    k->compress(c, 8);
    CHECK(c.positions(0, 0) == Pos{4, 5, 6, 7});
    at::Tensor kk = at::full({1, 1, 4}, 1.0), vv = at::zeros({1, 1, 4});
    for (int64_t t = 8; t < 12; ++t) {
      c.append(0, kk, vv, t);
      k->compress(c, t + 1);
    }
    CHECK(c.positions(0, 0) == Pos{4, 5, 6, 7, 8, 9, 10, 11});
  }

  TEST_CASE("fix_size_l2: protected recent part plus K zone slots by strategy") {
    c10::InferenceMode g;
    // norms: t -> (t * 5) % 11 + 1, distinct for t < 11
    auto norm = [](int64_t, int64_t h, int64_t t) { return double((t * 5 + h) % 11) + 1.0; };
    // n = 10, F = 6, r = 0.34: P = floor(2.04) = 2, zone = [0, 8), K = 4
    KVCache c = make_cache(1, 2, 10, norm);
    make_fix_size_l2(6, 0.34, "keep_low", 0)->compress(c, 10);
    // head 0 zone norms t=0..7: 1,6,11,5,10,4,9,3 -> lowest 4: t=0 (1), 7 (3), 5 (4), 3 (5)
    CHECK(c.positions(0, 0) == Pos{0, 3, 5, 7, 8, 9});
    // head 1: (5t+1)%11+1 for t=0..7: 2,7,1,6,11,5,10,4 -> lowest: t=2 (1), 0 (2), 7 (4), 5 (5)
    CHECK(c.positions(0, 1) == Pos{0, 2, 5, 7, 8, 9});
    check_consistent(c, norm);

    KVCache c2 = make_cache(1, 2, 10, norm);
    make_fix_size_l2(6, 0.34, "keep_high", 0)->compress(c2, 10);
    // head 0 highest 4 in zone: t=2 (11), 4 (10), 6 (9), 1 (6)
    CHECK(c2.positions(0, 0) == Pos{1, 2, 4, 6, 8, 9});

    // random: K zone slots, reproducible for a seed, protected part always kept
    KVCache c3 = make_cache(1, 2, 10, norm), c4 = make_cache(1, 2, 10, norm);
    make_fix_size_l2(6, 0.34, "random", 7)->compress(c3, 10);
    make_fix_size_l2(6, 0.34, "random", 7)->compress(c4, 10);
    for (int64_t h = 0; h < 2; ++h) {
      const Pos& p = c3.positions(0, h);
      REQUIRE(p.size() == 6);
      CHECK(p == c4.positions(0, h));
      CHECK(p[4] == 8);
      CHECK(p[5] == 9);
      CHECK(std::is_sorted(p.begin(), p.end()));
      CHECK(p[3] < 8);
    }
    check_consistent(c3, norm);

    // keep_ratio 1: K = 0, only the protected F most recent remain
    KVCache c5 = make_cache(1, 2, 10, norm);
    make_fix_size_l2(6, 1.0, "keep_low", 0)->compress(c5, 10);
    CHECK(c5.positions(0, 0) == range(4, 10));
    // keep_ratio 0: nothing protected, the F lowest norms of the whole cache remain
    KVCache c6 = make_cache(1, 1, 7, norm);
    make_fix_size_l2(6, 0.0, "keep_low", 0)->compress(c6, 7);  // P = 0, zone 7, K = 6
    CHECK(c6.length(0, 0) == 6);
    KVCache c7 = make_cache(1, 1, 5, norm);
    make_fix_size_l2(6, 0.5, "keep_low", 0)->compress(c7, 5);  // n <= F
    CHECK(c7.length(0, 0) == 5);
  }

  TEST_CASE("window_policy applies the shared per-head sink/window rule") {
    c10::InferenceMode g;
    Visibility vis(2, 4);
    vis.at(0, 0) = HeadWindow{2, 3};   // sink 2, window 3
    vis.at(0, 1) = HeadWindow{0, 0};   // dead
    vis.at(0, 2) = HeadWindow{0, -1};  // full
    vis.at(0, 3) = HeadWindow{0, 5};
    // layer 1 all full
    KVCache c = plain_cache(2, 4, 10);
    auto w = make_window_policy(vis);
    w->check(c);
    w->compress(c, 10);
    // next query 10 sees k < 2 or 10 - k < 3 -> {0, 1, 8, 9}
    CHECK(c.positions(0, 0) == Pos{0, 1, 8, 9});
    CHECK(c.positions(0, 1).empty());
    CHECK(c.positions(0, 2) == range(0, 10));
    CHECK(c.positions(0, 3) == Pos{6, 7, 8, 9});
    CHECK(c.positions(1, 1) == range(0, 10));
    check_consistent(c, [](int64_t, int64_t, int64_t t) { return 1.0 + double(t); });
    // the rule holds against HeadWindow::sees for every head after more ragged appends
    for (int64_t t = 10; t < 30; ++t) {
      for (int64_t l = 0; l < 2; ++l) {
        at::Tensor k = at::full({4, 1, 4}, 1.0 + double(t)), v = at::zeros({4, 1, 4});
        v.select(2, 0).fill_(double(t));
        v.select(2, 1).copy_(at::arange(4, at::kFloat).view({4, 1}));
        c.append(l, k, v, t);
      }
      w->compress(c, t + 1);
    }
    for (int64_t h = 0; h < 4; ++h) {
      Pos expect;
      for (int64_t p = 0; p < 30; ++p)
        if (vis.at(0, h).sees(30, p)) expect.push_back(p);
      CHECK(c.positions(0, h) == expect);
    }
    check_consistent(c, [](int64_t, int64_t, int64_t t) { return 1.0 + double(t); });
    KVCache wrong = plain_cache(3, 4, 1);
    CHECK_THROWS_AS(w->check(wrong), Error);
  }

  TEST_CASE("sliding evictions keep contents and order across many steps") {
    // Sink + recent and recent-only evictions slide the layer's view instead of gathering; the
    // prefix move overlaps its destination when fewer slots are evicted than the prefix holds
    // (sink 4, one slot per step), and the contents move back to the front when the view reaches
    // the end of the storage. Every step must leave exactly the tokens the rule names.
    c10::InferenceMode g;
    auto norm = [](int64_t, int64_t, int64_t t) { return 1.0 + double(t); };
    struct Case { int64_t sink, recent, every; };
    for (Case cs : {Case{4, 9, 1}, Case{4, 9, 3}, Case{2, 5, 7}, Case{0, 6, 1}, Case{3, 0, 2}}) {
      CAPTURE(cs.sink);
      CAPTURE(cs.recent);
      CAPTURE(cs.every);
      KVCache c = plain_cache(2, 3, 1);
      auto s = make_streaming_llm(cs.sink, cs.recent);
      for (int64_t t = 1; t < 120; ++t) {
        for (int64_t l = 0; l < 2; ++l) {
          at::Tensor k = at::zeros({3, 1, 4}), v = at::zeros({3, 1, 4});
          for (int64_t h = 0; h < 3; ++h) {
            k[h][0][0] = norm(l, h, t);
            v[h][0][0] = double(t);
            v[h][0][1] = double(h);
          }
          c.append(l, k, v, t);
        }
        if ((t + 1) % cs.every == 0) s->compress(c, t + 1);
      }
      s->compress(c, 120);
      const Pos expect = cat(range(0, cs.sink), range(120 - cs.recent, 120));
      for (int64_t l = 0; l < 2; ++l)
        for (int64_t h = 0; h < 3; ++h) CHECK(c.positions(l, h) == expect);
      check_consistent(c, norm);
      CHECK(c.capacity(0) <= 4 * int64_t(expect.size()) + 16);
    }
    // the same through recent_only (prefix 0)
    KVCache c = plain_cache(1, 2, 50);
    auto r = make_recent_only(7);
    for (int64_t t = 50; t < 90; ++t) {
      c.append(0, at::ones({2, 1, 4}) * double(t + 1), at::ones({2, 1, 4}) * double(t), t);
      r->compress(c, t + 1);
    }
    CHECK(c.positions(0, 0) == range(83, 90));
    at::Tensor v = c.values(0);
    for (int64_t s2 = 0; s2 < 7; ++s2) CHECK(v[1][s2][0].item<double>() == double(83 + s2));
  }

  TEST_CASE("a compressed cache releases memory") {
    c10::InferenceMode g;
    KVCache dense = plain_cache(2, 2, 300), comp = plain_cache(2, 2, 300);
    const int64_t before = comp.allocated_bytes();
    CHECK(before == dense.allocated_bytes());
    CHECK(comp.capacity(0) >= 300);
    make_streaming_llm(4, 28)->compress(comp, 300);
    CHECK(comp.max_length(0) == 32);
    CHECK(comp.allocated_bytes() < before / 4);
    CHECK(comp.used_bytes() == 2 * 2 * 32 * 2 * 4 * 4);
    // and it stays flat while decoding on
    auto s = make_streaming_llm(4, 28);
    const int64_t flat = comp.allocated_bytes();
    for (int64_t t = 300; t < 600; ++t) {
      for (int64_t l = 0; l < 2; ++l) comp.append(l, at::ones({2, 1, 4}), at::ones({2, 1, 4}), t);
      s->compress(comp, t + 1);
      CHECK(comp.allocated_bytes() == flat);
    }
  }

  TEST_CASE("bad parameters are one-line errors") {
    CHECK_THROWS_AS(make_streaming_llm(-1, 4), Error);
    CHECK_THROWS_AS(make_streaming_llm(4, -4), Error);
    CHECK_THROWS_AS(make_streaming_llm(0, 0), Error);
    CHECK_THROWS_AS(make_recent_only(0), Error);
    CHECK_THROWS_AS(make_recent_only(-3), Error);
    CHECK_THROWS_AS(make_l2(1.5, 10, "every"), Error);
    CHECK_THROWS_AS(make_l2(-0.1, 10, "every"), Error);
    CHECK_THROWS_AS(make_l2(0.5, -1, "every"), Error);
    CHECK_THROWS_AS(make_l2(0.5, 10, "sometimes"), Error);
    CHECK_THROWS_AS(make_fix_size_l2(0, 0.5, "keep_low", 0), Error);
    CHECK_THROWS_AS(make_fix_size_l2(-8, 0.5, "keep_low", 0), Error);
    CHECK_THROWS_AS(make_fix_size_l2(128, 1.2, "keep_low", 0), Error);
    CHECK_THROWS_AS(make_fix_size_l2(128, 0.5, "keep_middle", 0), Error);
    MethodOptions o;
    CHECK_THROWS_AS(make_compressor("h2o", o), Error);
    CHECK_THROWS_AS(make_compressor("window_policy", o), Error);  // no visibility
    o.skip_layers = {-1};
    CHECK_THROWS_AS(make_compressor("streaming_llm", o), Error);
    o.skip_layers = {7};
    auto c = make_compressor("streaming_llm", o);
    KVCache cache(2, 1, 4, at::kCPU, at::kFloat);
    CHECK_THROWS_AS(c->check(cache), Error);
    try {
      make_fix_size_l2(128, 0.5, "keep_middle", 0);
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
      CHECK(std::string(e.what()).find("keep_middle") != std::string::npos);
    }
  }

  TEST_CASE("tova evicts the entry the step's query attended to least (layer or KV head)") {
    c10::InferenceMode g;
    // 1 layer, 2 KV heads, group of 2 query heads, 5 entries, cache_size 3: two evictions
    auto attention = [] {
      at::Tensor a = at::zeros({2, 2, 5});
      // KV head 0: slots 1 and 3 least attended; KV head 1: slots 0 and 4
      // dyadic values: every sum is exact in float
      const float h0[2][5] = {{0.25f, 0.0625f, 0.25f, 0.0625f, 0.375f}, {0.25f, 0.125f, 0.375f, 0.0f, 0.25f}};
      const float h1[2][5] = {{0.0f, 0.375f, 0.25f, 0.25f, 0.125f}, {0.0625f, 0.3125f, 0.25f, 0.375f, 0.0f}};
      for (int g = 0; g < 2; ++g)
        for (int j = 0; j < 5; ++j) {
          a[0][g][j] = h0[g][j];
          a[1][g][j] = h1[g][j];
        }
      return a;
    };
    {  // per KV head: each head keeps its own three best
      KVCache c = plain_cache(1, 2, 5);
      auto t = make_tova(3, "kv_head");
      CHECK(t->needs_attention());
      t->set_step_attention(0, attention());
      t->compress(c, 5);
      CHECK(c.positions(0, 0) == Pos{0, 2, 4});
      CHECK(c.positions(0, 1) == Pos{1, 2, 3});
      check_consistent(c, [](int64_t, int64_t, int64_t tok) { return 1.0 + double(tok); });
    }
    {  // layer: scores summed over all four query heads -> .5625 .875 1.125 .6875 .75:
       // evict 0 and 3, keep 1 2 4 in both heads
      KVCache c = plain_cache(1, 2, 5);
      auto t = make_tova(3, "layer");
      t->set_step_attention(0, attention());
      t->compress(c, 5);
      CHECK(c.positions(0, 0) == Pos{1, 2, 4});
      CHECK(c.positions(0, 1) == Pos{1, 2, 4});
    }
    {  // equal scores: the older entry goes first
      KVCache c = plain_cache(1, 1, 4);
      auto t = make_tova(3, "kv_head");
      t->set_step_attention(0, at::full({1, 1, 4}, 0.25f));
      t->compress(c, 4);
      CHECK(c.positions(0, 0) == Pos{1, 2, 3});
    }
    {  // within budget: untouched; without the step's attention: an error, never a blind guess
      KVCache c = plain_cache(1, 2, 3);
      auto t = make_tova(3, "layer");
      t->compress(c, 3);
      CHECK(c.positions(0, 0) == Pos{0, 1, 2});
      KVCache d = plain_cache(1, 2, 4);
      CHECK_THROWS_WITH_AS(t->compress(d, 4), doctest::Contains("needs the step's attention of layer 0"), Error);
      t->set_step_attention(0, at::zeros({2, 2, 3}));  // attention over 3 slots, cache of 4
      CHECK_THROWS_WITH_AS(t->compress(d, 4), doctest::Contains("has shape"), Error);
    }
    CHECK_THROWS_AS(make_tova(0, "layer"), Error);
    CHECK_THROWS_AS(make_tova(8, "head"), Error);
  }

  TEST_CASE("the decoder hands attention-aware methods each layer's attention of the step") {
    c10::InferenceMode g;
    Model model = Model::load(test::bundled_model(), at::kCPU, at::kFloat);
    const auto& mc = model.config();
    // records what it is given, then keeps the last 6 entries (so lengths stay checkable)
    struct Recorder : Compressor {
      const ModelConfig* mc = nullptr;
      int64_t steps = 0, bad_shape = 0, bad_sum = 0, calls = 0;
      std::string name() const override { return "recorder"; }
      bool needs_attention() const override { return true; }
      nlohmann::json params() const override { return base_params(); }
      void compress_layer(KVCache& cache, int64_t layer, int64_t) override {
        at::Tensor a = step_attention(cache, layer);
        ++calls;
        if (a.size(0) != mc->num_kv_heads || a.size(1) != mc->num_heads / mc->num_kv_heads ||
            a.size(2) != cache.max_length(layer))
          ++bad_shape;
        if ((a.sum(-1) - 1).abs().max().item<double>() > 1e-5) ++bad_sum;
        if (layer == 0) ++steps;
        if (cache.max_length(layer) > 6) {
          std::vector<int64_t> keep;
          for (int64_t j = cache.max_length(layer) - 6; j < cache.max_length(layer); ++j) keep.push_back(j);
          cache.keep_all_heads(layer, keep);
        }
      }
    } rec;
    rec.mc = &mc;
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < 20; ++i) ids.push_back(100 + 37 * i);
    DecodeOptions d;
    d.compressor = &rec;
    EvalResult r = evaluate_decode(model, ids, d);
    CHECK(rec.steps == 19);
    CHECK(rec.calls == 19 * mc.num_layers);
    CHECK(rec.bad_shape == 0);
    CHECK(rec.bad_sum == 0);
    // tova with a cache as long as the text evicts nothing: exactly the dense decode
    auto big = make_tova(64, "layer");
    d.compressor = big.get();
    EvalResult t = evaluate_decode(model, ids, d);
    d.compressor = nullptr;
    EvalResult dense = evaluate_decode(model, ids, d);
    REQUIRE(t.nll.size() == dense.nll.size());
    for (size_t i = 0; i < t.nll.size(); ++i) CHECK(t.nll[i] == dense.nll[i]);
    // a small cache: at most cache_size entries per head at the end
    auto small = make_tova(5, "kv_head");
    d.compressor = small.get();
    EvalResult s = evaluate_decode(model, ids, d);
    for (auto n : s.extra["final_cache_per_layer"]) CHECK(n.get<int64_t>() == 5);
  }

  TEST_CASE("ragged heads append at their own length") {
    c10::InferenceMode g;
    KVCache c = plain_cache(1, 2, 5);
    c.keep(0, {{0, 4}, {1, 2, 3}});
    CHECK(c.length(0, 0) == 2);
    CHECK(c.length(0, 1) == 3);
    CHECK_FALSE(c.uniform(0));
    at::Tensor k = at::zeros({2, 1, 4}), v = at::zeros({2, 1, 4});
    k.select(2, 0).fill_(6.0);  // norm of token 5 under the plain_cache rule
    v.select(2, 0).fill_(5.0);
    v[1][0][1] = 1.0;
    c.append(0, k, v, 5);
    CHECK(c.positions(0, 0) == Pos{0, 4, 5});
    CHECK(c.positions(0, 1) == Pos{1, 2, 3, 5});
    check_consistent(c, [](int64_t, int64_t, int64_t t) { return 1.0 + double(t); });
    CHECK_THROWS_AS(c.keep(0, {{1, 0}, {0}}), Error);
    // slots past a head's length are zeros, never uninitialised memory (they meet probability 0
    // in attention, and 0 * NaN would poison the output)
    KVCache big = plain_cache(1, 2, 40);
    big.keep(0, {{0}, {1, 2, 3}});  // shrinks: capacity 64 -> 2 * 3
    CHECK(big.capacity(0) == 6);
    for (int64_t t = 40; t < 45; ++t) big.append(0, at::ones({2, 1, 4}), at::ones({2, 1, 4}), t);
    CHECK(big.length(0, 0) == 6);
    CHECK(big.length(0, 1) == 8);
    CHECK(at::isfinite(big.values(0)).all().item<bool>());
    CHECK(at::isfinite(big.keys(0)).all().item<bool>());
  }
}
