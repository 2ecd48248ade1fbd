// The contract every registered compression method keeps, checked by iterating the registries
// (compress/registry.h): a method added in its own file is tested here without editing this file.
//  - compressors, with their default options, over a token-by-token decode of kTokens tokens:
//    kept slots stay in temporal order; every kept slot's key and value are those of the token at
//    the position the cache records; skip_layers are never touched; the cache really evicts and
//    releases memory (allocated bytes below those of the same cache without compression);
//  - presses, on a random layer: every head keeps distinct slots in temporal order, within the
//    context, kvpress's budget in all;
//  - both: every declared option refuses values out of its range, of the wrong type or not among
//    its choices; a flag the method does not declare is refused as not applicable.
#include <doctest/doctest.h>

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <set>

#include "common/error.h"
#include "compress/compressor.h"
#include "compress/prefill_press.h"
#include "compress/registry.h"
#include "model/kv_cache.h"

using namespace headscope;

namespace {

constexpr int64_t kLayers = 3, kHeads = 2, kDim = 4;
// Longer than every default budget of the registered methods (the largest: l2 prunes past
// 1000 entries) and long enough that an uncompressed cache doubles its storage past theirs.
constexpr int64_t kTokens = 2100;

// Key norm of (layer, head, token): distinct for nearby tokens, varied across heads and layers.
double key_norm(int64_t l, int64_t h, int64_t t) {
  return 1.0 + double((t * 7919 + h * 104729 + l * 1299709) % 1000) / 64.0;
}

// Appends token t to every layer: key [norm, 0, 0, 0], value [t, h, l, 1].
void append_token(KVCache& c, int64_t t) {
  for (int64_t l = 0; l < c.layers(); ++l) {
    at::Tensor k = at::zeros({kHeads, 1, kDim}), v = at::zeros({kHeads, 1, kDim});
    auto ka = k.accessor<float, 3>();
    auto va = v.accessor<float, 3>();
    for (int64_t h = 0; h < kHeads; ++h) {
      ka[h][0][0] = float(key_norm(l, h, t));
      va[h][0][0] = float(t);
      va[h][0][1] = float(h);
      va[h][0][2] = float(l);
      va[h][0][3] = 1.0f;
    }
    c.append(l, k, v, t);
  }
}

void check_slots(const KVCache& c, const std::string& method) {
  for (int64_t l = 0; l < c.layers(); ++l) {
    at::Tensor k = c.keys(l).contiguous(), v = c.values(l).contiguous();
    auto ka = k.accessor<float, 3>();
    auto va = v.accessor<float, 3>();
    for (int64_t h = 0; h < c.heads(); ++h) {
      const auto& pos = c.positions(l, h);
      REQUIRE(int64_t(pos.size()) == c.length(l, h));
      INFO(method << " layer " << l << " head " << h);
      CHECK(std::is_sorted(pos.begin(), pos.end()));
      CHECK(std::adjacent_find(pos.begin(), pos.end()) == pos.end());
      int64_t bad = 0;
      for (size_t s = 0; s < pos.size(); ++s) {
        const int64_t t = pos[s];
        if (va[h][s][0] != float(t) || va[h][s][1] != float(h) || va[h][s][2] != float(l) ||
            ka[h][s][0] != float(key_norm(l, h, t)))
          ++bad;
      }
      CHECK(bad == 0);
    }
  }
}

// A step's attention over layer l's slots [KV, 1, L]: deterministic, varied, rows sum to 1.
at::Tensor step_attention(const KVCache& c, int64_t l, int64_t t) {
  const int64_t L = c.max_length(l);
  at::Tensor a = at::zeros({c.heads(), 1, L});
  auto acc = a.accessor<float, 3>();
  for (int64_t h = 0; h < c.heads(); ++h)
    for (int64_t j = 0; j < L; ++j) acc[h][0][j] = 1.0f + float((j * 31 + h * 17 + t * 7 + l) % 97);
  return a / a.sum(-1, true);
}

// Values an option must refuse.
std::vector<OptionValue> bad_values(const OptionSpec& s) {
  std::vector<OptionValue> v;
  switch (s.type) {
    case OptionType::Int:
      if (s.min) v.push_back(int64_t(*s.min) - (s.min_exclusive ? 0 : 1));
      if (s.max) v.push_back(int64_t(*s.max) + (s.max_exclusive ? 0 : 1));
      v.push_back(std::string("1.5"));
      v.push_back(std::string("abc"));
      v.push_back(0.5);
      break;
    case OptionType::Double:
      if (s.min) v.push_back(s.min_exclusive ? *s.min : *s.min - 0.5);
      if (s.max) v.push_back(s.max_exclusive ? *s.max : *s.max + 0.5);
      v.push_back(std::string("abc"));
      v.push_back(std::nan(""));
      break;
    case OptionType::Choice:
      v.push_back(std::string("no_such_choice"));
      v.push_back(int64_t(1));
      break;
    case OptionType::Text:
      v.push_back(int64_t(1));
      break;
  }
  return v;
}

// Every flag some registered method declares.
std::set<std::string> all_flags() {
  std::set<std::string> f;
  for (auto* c : compressors())
    for (const auto& s : c->options) f.insert(s.flag);
  for (auto* p : presses())
    for (const auto& s : p->options) f.insert(s.flag);
  f.insert(compression_ratio_option().flag);
  return f;
}

}  // namespace

TEST_SUITE("compress_contract") {
  TEST_CASE("the registries hold the methods eval offers") {
    std::vector<std::string> names;
    for (auto* c : compressors()) names.push_back(c->name);
    // order = --compare-all order
    CHECK(names == std::vector<std::string>{"streaming_llm", "recent_only", "l2", "fix_size_l2", "tova"});
    std::vector<std::string> pn;
    for (auto* p : presses()) pn.push_back(p->name);
    CHECK(pn == std::vector<std::string>{"streaming_llm", "knorm", "snapkv", "tova", "h2o", "adakv"});
    for (auto* c : compressors()) {
      CHECK_FALSE(c->help.empty());
      for (const auto& s : c->options) CHECK_FALSE(s.help.empty());
    }
  }

  TEST_CASE("every compressor: temporal order, consistent slots, skip_layers, memory released") {
    c10::InferenceMode g;
    // the same decode without compression: what the cache would hold
    KVCache dense(kLayers, kHeads, kDim, at::kCPU, at::kFloat);
    for (int64_t t = 0; t < kTokens; ++t) append_token(dense, t);
    for (const CompressorInfo* info : compressors()) {
      const std::string m = info->name;
      CAPTURE(m);
      MethodOptions o;
      o.skip_layers = {1};
      std::unique_ptr<Compressor> c = make_compressor(m, o);
      REQUIRE(c != nullptr);
      CHECK(c->name() == m);
      CHECK(c->params()["method"] == m);
      KVCache cache(kLayers, kHeads, kDim, at::kCPU, at::kFloat);
      c->check(cache);
      for (int64_t t = 0; t < kTokens; ++t) {
        append_token(cache, t);
        if (c->needs_attention())  // attention-aware: the step's attention, as the decoder gives it
          for (int64_t l = 0; l < kLayers; ++l) c->set_step_attention(l, step_attention(cache, l, t));
        c->compress(cache, t + 1);
      }
      check_slots(cache, m);
      // the skipped layer holds every token
      for (int64_t h = 0; h < kHeads; ++h) CHECK(cache.length(1, h) == kTokens);
      // the others were compressed: fewer entries and less storage than without compression
      for (int64_t l : {0, 2}) {
        CHECK(cache.max_length(l) < kTokens);
        CHECK(cache.capacity(l) < dense.capacity(l));
      }
      CHECK(cache.allocated_bytes() < dense.allocated_bytes());
      CHECK(cache.total_entries() < dense.total_entries());
    }
  }

  TEST_CASE("every compressor: bad options and options of other methods are refused") {
    const std::set<std::string> flags = all_flags();
    for (const CompressorInfo* info : compressors()) {
      const std::string m = info->name;
      CAPTURE(m);
      CHECK_NOTHROW(make_compressor(m, MethodOptions{}));
      for (const OptionSpec& s : info->options) {
        CHECK_NOTHROW(make_compressor(m, MethodOptions{}.set(s.flag, s.default_value)));
        for (const OptionValue& bad : bad_values(s)) {
          const std::string shown = format_option_value(bad);
          CAPTURE(s.flag);
          CAPTURE(shown);
          try {
            make_compressor(m, MethodOptions{}.set(s.flag, bad));
            FAIL("accepted --" << s.flag << " " << shown);
          } catch (const Error& e) {
            const std::string w = e.what();
            CHECK(w.find("--" + s.flag) != std::string::npos);
            CHECK(w.find('\n') == std::string::npos);
          }
        }
      }
      const std::vector<std::string> own = compressor_flags(m);
      for (const std::string& f : flags) {
        if (std::find(own.begin(), own.end(), f) != own.end()) continue;
        CAPTURE(f);
        try {
          make_compressor(m, MethodOptions{}.set(f, std::string("1")));
          FAIL("accepted --" << f);
        } catch (const OptionNotApplicable& e) {
          CHECK(std::string(e.what()) == "--" + f + " does not apply to --method " + m);
        }
      }
      MethodOptions neg;
      neg.skip_layers = {-1};
      CHECK_THROWS_AS(make_compressor(m, neg), Error);
      MethodOptions far;
      far.skip_layers = {kLayers};
      KVCache cache(kLayers, kHeads, kDim, at::kCPU, at::kFloat);
      CHECK_THROWS_AS(make_compressor(m, far)->check(cache), Error);
    }
    CHECK_THROWS_AS(make_compressor("no_such_method", {}), Error);
  }

  TEST_CASE("every press: distinct slots in temporal order within the context, kvpress's budget") {
    c10::InferenceMode g;
    const int64_t Hq = 4, Hkv = 2, N = 96, D = 8;
    at::manual_seed(3);
    PrefillLayerView v;
    v.queries = at::randn({Hq, N, D});
    v.keys = at::randn({Hkv, N, D});
    v.values = at::randn({Hkv, N, D});
    v.accumulated_attention = at::rand({Hq, N}) * 4.0;
    for (const PressInfo* info : presses()) {
      const std::string m = info->name;
      for (double ratio : {0.25, 0.5, 0.75}) {
        CAPTURE(m);
        CAPTURE(ratio);
        std::unique_ptr<PrefillPress> p = make_prefill_press(m, MethodOptions{}.set("compression-ratio", ratio));
        CHECK(p->name() == m);
        CHECK(p->params()["method"] == m);
        p->check_context(N);
        const auto keep = p->select(v);
        REQUIRE(int64_t(keep.size()) == Hkv);
        int64_t total = 0;
        for (const auto& k : keep) {
          CHECK(std::is_sorted(k.begin(), k.end()));
          CHECK(std::adjacent_find(k.begin(), k.end()) == k.end());
          if (!k.empty()) CHECK((k.front() >= 0 && k.back() < N));
          total += int64_t(k.size());
        }
        CHECK(total == Hkv * p->budget(N));
        CHECK(total < Hkv * N);
      }
    }
  }

  TEST_CASE("every press: bad options, a missing ratio and options of other methods are refused") {
    const std::set<std::string> flags = all_flags();
    for (const PressInfo* info : presses()) {
      const std::string m = info->name;
      CAPTURE(m);
      const MethodOptions ok = MethodOptions{}.set("compression-ratio", 0.5);
      CHECK_NOTHROW(make_prefill_press(m, ok));
      CHECK_THROWS_AS(make_prefill_press(m, MethodOptions{}), Error);
      std::vector<OptionSpec> specs = info->options;
      specs.push_back(compression_ratio_option());
      for (const OptionSpec& s : specs) {
        for (const OptionValue& bad : bad_values(s)) {
          MethodOptions o = ok;
          o.set(s.flag, bad);
          const std::string shown = format_option_value(bad);
          CAPTURE(s.flag);
          CAPTURE(shown);
          CHECK_THROWS_AS(make_prefill_press(m, o), Error);
        }
      }
      const std::vector<std::string> own = press_flags(m);
      for (const std::string& f : flags) {
        if (std::find(own.begin(), own.end(), f) != own.end()) continue;
        CAPTURE(f);
        MethodOptions o = ok;
        o.set(f, std::string("1"));
        CHECK_THROWS_AS(make_prefill_press(m, o), OptionNotApplicable);
      }
      MethodOptions skip = ok;
      skip.skip_layers = {0};
      CHECK_THROWS_AS(make_prefill_press(m, skip), OptionNotApplicable);
    }
  }

  TEST_CASE("window_policy owns its visibility: a temporary argument does not dangle") {
    c10::InferenceMode g;
    std::unique_ptr<Compressor> w = make_window_policy(Visibility(kLayers, kHeads, HeadWindow{1, 3}));
    KVCache cache(kLayers, kHeads, kDim, at::kCPU, at::kFloat);
    w->check(cache);
    for (int64_t t = 0; t < 40; ++t) {
      append_token(cache, t);
      w->compress(cache, t + 1);
    }
    check_slots(cache, "window_policy");
    // next query 40 sees the sink 0 and 38, 39 (40 - p < 3) besides itself
    for (int64_t l = 0; l < kLayers; ++l)
      for (int64_t h = 0; h < kHeads; ++h) CHECK(cache.positions(l, h) == std::vector<int64_t>{0, 38, 39});
  }
}
