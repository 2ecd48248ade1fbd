// The architecture seam without ../shared: the table of supported architectures and its
// errors, config values that cannot be right, checkpoint checks (layer count, finiteness), the
// rotary module's scaling types against brute-force formulas, GQA attention against an
// explicit repeat_kv, and the per-KV-head policy rule.
#include <unistd.h>
#include <doctest/doctest.h>

#include <c10/core/InferenceMode.h>

#include <cmath>
#include <filesystem>

#include "common/atomic_file.h"
#include "common/error.h"
#include "headaware/kv_group_policy.h"
#include "model/config.h"
#include "model/model.h"
#include "model/parallel_attention.h"
#include "model/rotary.h"
#include "model/safetensors.h"
#include "tests/safetensors_writer.h"
#include "tests/support.h"

using namespace headscope;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

json llama_config() {
  return json::parse(R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 8, "num_key_value_heads": 2,
    "num_hidden_layers": 2, "vocab_size": 100, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
    "max_position_embeddings": 128, "hidden_act": "silu", "tie_word_embeddings": true})");
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct TempDir {
  fs::path p;
  TempDir() {
    p = fs::temp_directory_path() / ("headscope_arch_" + std::to_string(::getpid()) + "_" +
                                      std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::create_directories(p);
  }
  ~TempDir() { headscope::test::remove_tree(p); }
  std::string str(const std::string& rel = "") const { return (p / rel).string(); }
};

}  // namespace

TEST_SUITE("model_arch") {
  TEST_CASE("supported architectures and their one-line errors") {
    ModelConfig c = ModelConfig::parse(llama_config().dump());
    CHECK(c.architecture == "LlamaForCausalLM");
    CHECK(c.num_kv_heads == 2);
    CHECK(c.kv_group() == 4);
    CHECK(c.kv_head_of(5) == 1);
    CHECK(c.head_dim() == 8);
    CHECK(c.rotary_ndims() == 8);
    CHECK(c.norm == NormKind::RMSNorm);
    CHECK(c.mlp == MlpKind::SwiGLU);
    CHECK(!c.use_parallel_residual);
    CHECK(!c.qkv_bias);
    for (const char* a : {"MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"}) {
      json j = llama_config();
      j["architectures"] = {a};
      CHECK(ModelConfig::parse(j.dump()).architecture == a);
    }
    json j = llama_config();
    j["architectures"] = {"GemmaForCausalLM"};
    std::string e = error_of([&] { ModelConfig::parse(j.dump()); });
    CHECK(has(e, "architecture 'GemmaForCausalLM' is not supported"));
    CHECK(has(e, "GPTNeoXForCausalLM, LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM"));
    j.erase("architectures");
    j["model_type"] = "gemma";
    CHECK(has(error_of([&] { ModelConfig::parse(j.dump()); }), "model_type 'gemma' is not supported"));
    auto bad = [&](const std::function<void(json&)>& edit) {
      json k = llama_config();
      edit(k);
      return error_of([&] { ModelConfig::parse(k.dump()); });
    };
    CHECK(has(bad([](json& k) { k["num_key_value_heads"] = 3; }), "not divisible by num_key_value_heads"));
    CHECK(has(bad([](json& k) { k["num_attention_heads"] = 8.5; }), "must be an integer"));
    CHECK(has(bad([](json& k) { k["num_key_value_heads"] = 0; }), "must be > 0"));
    CHECK(has(bad([](json& k) { k["rms_norm_eps"] = 0.0; }), "epsilon must be > 0"));
    CHECK(has(bad([](json& k) { k["rope_theta"] = -1.0; }), "rope_theta) must be > 0"));
    CHECK(has(bad([](json& k) { k["max_position_embeddings"] = 0; }), "max_position_embeddings must be > 0"));
    CHECK(has(bad([](json& k) { k["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}}; }),
              "rope type 'dynamic' is not supported (supported: default, linear, llama3, yarn)"));
    CHECK(has(bad([](json& k) { k["hidden_act"] = "gelu"; }), "hidden_act 'gelu' is not supported"));
    CHECK(has(bad([](json& k) { k["architectures"] = json::array(); }), "non-empty list"));
    // found by fuzz/fuzz_config: a number too large for any JSON number type is nlohmann's
    // out_of_range, not parse_error; it must be this one-line error, never std::terminate
    CHECK(has(error_of([] { ModelConfig::parse("{\"hidden_size\": 1" + std::string(400, '0') + "}", "c.json"); }),
              "c.json is not valid JSON (a number out of range)"));
    CHECK(has(error_of([] { ModelConfig::parse("{\"hidden_size\": 4", "c.json"); }), "c.json is not valid JSON (byte"));
    // NeoX: rotary base <= 0 and eps <= 0 too
    json n = json::parse(read_file(test::bundled_model() + "/config.json"));
    n["rotary_emb_base"] = 0;
    CHECK(has(error_of([&] { ModelConfig::parse(n.dump()); }), "must be > 0"));
    n = json::parse(read_file(test::bundled_model() + "/config.json"));
    n["layer_norm_eps"] = -1e-5;
    CHECK(has(error_of([&] { ModelConfig::parse(n.dump()); }), "epsilon must be > 0"));
  }

  TEST_CASE("config: transformers-4 and -5 rope forms, explicit head_dim, Qwen/Mistral windows") {
    json t4 = llama_config();
    t4["rope_theta"] = 500000.0;
    t4["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}};
    json t5 = llama_config();
    t5.erase("rope_theta");
    t5["rope_parameters"] = t4["rope_scaling"];
    t5["rope_parameters"]["rope_theta"] = 500000.0;
    ModelConfig a = ModelConfig::parse(t4.dump()), b = ModelConfig::parse(t5.dump());
    CHECK(a.rope.type == "llama3");
    CHECK(b.rope.type == "llama3");
    CHECK(a.rope.theta == b.rope.theta);
    CHECK(a.rope.original_max_position_embeddings == 64);
    CHECK(at::equal(Rotary::inverse_frequencies(a).first, Rotary::inverse_frequencies(b).first));
    json q = llama_config();
    q["architectures"] = {"Qwen3ForCausalLM"};
    q["head_dim"] = 32;
    ModelConfig c = ModelConfig::parse(q.dump());
    CHECK(c.head_dim() == 32);
    CHECK(c.qk_norm);
    q["use_sliding_window"] = true;
    q["sliding_window"] = 16;
    q["max_window_layers"] = 1;
    c = ModelConfig::parse(q.dump());
    CHECK(c.native_window(0) == -1);
    CHECK(c.native_window(1) == 16);
    json m = llama_config();
    m["architectures"] = {"MistralForCausalLM"};
    m["sliding_window"] = 32;
    CHECK(ModelConfig::parse(m.dump()).native_window(0) == 32);
    m["sliding_window"] = nullptr;
    CHECK(ModelConfig::parse(m.dump()).native_window(0) == -1);
  }

  TEST_CASE("rotary scaling types against their formulas (float64 brute force)") {
    ModelConfig c = ModelConfig::parse(llama_config().dump());
    c.rope.theta = 10000.0;
    auto base = [&](int64_t i) { return 1.0 / std::pow(10000.0, double(2 * i) / 8.0); };
    at::Tensor d = Rotary::inverse_frequencies(c).first;
    for (int64_t i = 0; i < 4; ++i) CHECK(d[i].item<double>() == doctest::Approx(base(i)).epsilon(1e-6));
    c.rope.type = "linear";
    c.rope.factor = 4.0;
    at::Tensor lin = Rotary::inverse_frequencies(c).first;
    for (int64_t i = 0; i < 4; ++i) CHECK(lin[i].item<double>() == doctest::Approx(base(i) / 4).epsilon(1e-6));
    c.rope.type = "llama3";
    c.rope.factor = 8;
    c.rope.low_freq_factor = 1;
    c.rope.high_freq_factor = 4;
    c.rope.original_max_position_embeddings = 64;
    at::Tensor l3 = Rotary::inverse_frequencies(c).first;
    for (int64_t i = 0; i < 4; ++i) {
      const double f = base(i), wl = 2 * M_PI / f;
      double want;
      if (wl < 64.0 / 4) want = f;
      else if (wl > 64.0 / 1) want = f / 8;
      else {
        const double s = (64.0 / wl - 1) / (4 - 1);
        want = (1 - s) * f / 8 + s * f;
      }
      CHECK(l3[i].item<double>() == doctest::Approx(want).epsilon(1e-5));
    }
    c.rope.type = "yarn";
    c.rope.factor = 4;
    c.rope.original_max_position_embeddings = 0;
    auto [yi, ys] = Rotary::inverse_frequencies(c);
    CHECK(ys == doctest::Approx(0.1 * std::log(4.0) + 1));
    CHECK(yi[0].item<double>() == doctest::Approx(base(0)).epsilon(1e-6));      // extrapolated
    CHECK(yi[3].item<double>() == doctest::Approx(base(3) / 4).epsilon(1e-6));  // interpolated
    // attention factor scales cos and sin
    Rotary r(c, at::kCPU);
    auto [cs, sn] = r.tables(at::arange(3, at::TensorOptions().dtype(at::kLong)), at::kFloat);
    CHECK((cs * cs + sn * sn).sqrt().sub(ys).abs().max().item<double>() < 1e-5);
  }

  TEST_CASE("GQA attention equals attention over explicitly repeated KV heads") {
    c10::InferenceMode guard;
    const int64_t H = 6, KV = 2, T = 9, D = 4;
    at::Tensor q = at::randn({H, T, D}), k = at::randn({KV, T, D}), v = at::randn({KV, T, D});
    at::Tensor kr = k.repeat_interleave(H / KV, 0), vr = v.repeat_interleave(H / KV, 0);
    at::Tensor mask = at::ones({T, T}, at::kBool).tril().unsqueeze(0).expand({H, T, T}).contiguous();
    mask[3][5][1] = false;  // a per-head difference
    at::Tensor p1, p2;
    at::Tensor a = masked_attention(q, k, v, mask, &p1);
    at::Tensor b = masked_attention(q, kr, vr, mask, &p2);
    CHECK(at::allclose(a, b, 1e-5, 1e-6));
    CHECK(at::allclose(p1, p2, 1e-5, 1e-6));
    CHECK(p1.sizes() == at::IntArrayRef({H, T, T}));
  }

  TEST_CASE("checkpoint checks: layers beyond num_hidden_layers, non-finite weights, tied alias") {
    c10::InferenceMode guard;
    json cfg = llama_config();
    std::map<std::string, at::Tensor> w;
    const int64_t d = 64, I = 96, V = 100, H = 8, KV = 2, D = 8;
    w["lm_head.weight"] = at::randn({V, d}) * 0.1;
    w["model.norm.weight"] = at::ones({d});
    for (int l = 0; l < 2; ++l) {
      std::string p = "model.layers." + std::to_string(l) + ".";
      w[p + "input_layernorm.weight"] = at::ones({d});
      w[p + "post_attention_layernorm.weight"] = at::ones({d});
      w[p + "self_attn.q_proj.weight"] = at::randn({H * D, d}) * 0.1;
      w[p + "self_attn.k_proj.weight"] = at::randn({KV * D, d}) * 0.1;
      w[p + "self_attn.v_proj.weight"] = at::randn({KV * D, d}) * 0.1;
      w[p + "self_attn.o_proj.weight"] = at::randn({d, H * D}) * 0.1;
      w[p + "mlp.gate_proj.weight"] = at::randn({I, d}) * 0.1;
      w[p + "mlp.up_proj.weight"] = at::randn({I, d}) * 0.1;
      w[p + "mlp.down_proj.weight"] = at::randn({d, I}) * 0.1;
    }
    auto write = [&](const TempDir& t, const json& c, const std::map<std::string, at::Tensor>& ws,
                     void (*patch)(json&) = nullptr) {
      write_file_atomic(t.str("config.json"), c.dump());
      test::write_bytes(t.str("model.safetensors"), test::safetensors_bytes(ws, patch));
    };
    auto alias = [](json& h) { h["__metadata__"] = {{"model.embed_tokens.weight", "lm_head.weight"}}; };
    {
      TempDir t;
      write(t, cfg, w, alias);  // only lm_head.weight stored, aliased in __metadata__
      Model m = Model::load(t.str());
      CHECK(m.config().num_kv_heads == 2);
      at::Tensor ids = at::arange(10, at::TensorOptions().dtype(at::kLong));
      ParallelAttentionOptions po;
      at::Tensor h = m.forward_hidden(ids, parallel_attention(m, po));
      CHECK(h.sizes() == at::IntArrayRef({10, d}));
      CHECK(at::equal(m.embed(ids), w["lm_head.weight"].narrow(0, 0, 10)));
    }
    {
      TempDir t;
      json c = cfg;
      c["num_hidden_layers"] = 1;
      write(t, c, w, alias);
      CHECK(has(error_of([&] { Model::load(t.str()); }), "num_hidden_layers is 1 but the checkpoint holds 2 layers"));
    }
    {
      TempDir t;
      auto bad = w;
      bad["model.layers.1.mlp.up_proj.weight"] = w["model.layers.1.mlp.up_proj.weight"].clone();
      bad["model.layers.1.mlp.up_proj.weight"][3][4] = NAN;
      write(t, cfg, bad, alias);
      CHECK(has(error_of([&] { Model::load(t.str()); }),
                "tensor 'model.layers.1.mlp.up_proj.weight' holds non-finite values"));
    }
    {
      TempDir t;
      json c = cfg;
      c["tie_word_embeddings"] = false;
      write(t, c, w);  // untied needs model.embed_tokens.weight
      CHECK(has(error_of([&] { Model::load(t.str()); }), "missing tensor 'model.embed_tokens.weight'"));
    }
  }

  TEST_CASE("per-KV-head policy rule: the most demanding (or least demanding) query head decides") {
    Visibility q(1, 8);
    // group 0: dead, 8, full(-1), 16 ; group 1: 8 (sink 0), 32 (sink 2), 0, 4 (sink 1)
    const HeadWindow hs[] = {{4, 0}, {4, 8}, {4, -1}, {4, 16}, {0, 8}, {2, 32}, {0, 0}, {1, 4}};
    for (int h = 0; h < 8; ++h) q.at(0, h) = hs[h];
    Visibility mx = kv_head_policy(q, 2, GroupRule::Max);
    CHECK(mx.heads() == 2);
    CHECK(mx.at(0, 0).window == -1);
    CHECK(mx.at(0, 1).window == 32);
    CHECK(mx.at(0, 1).sink == 2);
    Visibility mn = kv_head_policy(q, 2, GroupRule::Min);
    CHECK(mn.at(0, 0).window == 0);
    CHECK(mn.at(0, 1).window == 0);
    CHECK(mn.at(0, 1).sink == 0);
    CHECK(disagreeing_groups(q, 2) == 2);
    Visibility e = expand_to_query_heads(mx, 8);
    CHECK(disagreeing_groups(e, 2) == 0);
    CHECK(e.at(0, 7).window == 32);
    // multi-head: unchanged
    Visibility same = kv_head_policy(q, 8, GroupRule::Max);
    for (int h = 0; h < 8; ++h) CHECK(same.at(0, h).window == q.at(0, h).window);
    CHECK(has(error_of([&] { kv_head_policy(q, 3); }), "not a multiple"));
    CHECK(parse_group_rule("min") == GroupRule::Min);
    CHECK(has(error_of([] { parse_group_rule("mean"); }), "max or min"));
  }
}
