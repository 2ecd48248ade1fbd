// Loading a model directory: config forms, safetensors (single, sharded, F32/F16/BF16), and
// every kind of bad input giving a clear one-line Error.
#include <unistd.h>
#include <doctest/doctest.h>

#include <c10/core/InferenceMode.h>

#include <filesystem>
#include <type_traits>

#include "common/atomic_file.h"
#include "common/blas_info.h"
#include "common/error.h"
#include "model/config.h"
#include "model/model.h"
#include "model/parallel_attention.h"
#include "model/safetensors.h"
#include "tests/safetensors_writer.h"
#include "tests/support.h"

using namespace headscope;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path p;
  TempDir() {
    p = fs::temp_directory_path() / ("headscope_test_" + std::to_string(::getpid()) + "_" +
                                      std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::create_directories(p);
  }
  ~TempDir() { headscope::test::remove_tree(p); }
  std::string str(const std::string& rel = "") const { return (p / rel).string(); }
};

std::map<std::string, at::Tensor> bundled_tensors() {
  SafeTensors st = SafeTensors::open(test::bundled_model());
  std::map<std::string, at::Tensor> m;
  for (const auto& [name, v] : st.tensors()) {
    at::Tensor t = at::from_blob(const_cast<void*>(v.data), v.shape,
                                 at::TensorOptions().dtype(at::kHalf)).clone();
    m[name] = t;
  }
  return m;
}

// Copies the bundled config + tokenizer into dir.
void copy_meta(const TempDir& d) {
  fs::copy_file(test::bundled_model() + "/config.json", d.str("config.json"));
  fs::copy_file(test::bundled_model() + "/tokenizer.json", d.str("tokenizer.json"));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

at::Tensor hidden_of(const Model& m) {
  at::Tensor ids = at::arange(1000, 1032, at::TensorOptions().dtype(at::kLong));
  ParallelAttentionOptions po;
  return m.forward_hidden(ids, parallel_attention(m, po));
}

}  // namespace

TEST_SUITE("model_io") {
  TEST_CASE("the BLAS in use is OpenBLAS (or MKL), not the reference BLAS") {
    // scripts/setup.sh points libblas.so.3 at OpenBLAS (OpenMP build); the reference BLAS would
    // make every benchmark ~20x slower. PyTorch wheels (the GPU build) bring MKL.
    at::mm(at::ones({2, 2}), at::ones({2, 2}));
    INFO(headscope::blas_description());
    CHECK(headscope::blas_is_optimised());
    if (!at::globalContext().hasMKL())
      CHECK(headscope::blas_description().find("USE_OPENMP") != std::string::npos);
  }

  TEST_CASE("config: Pythia and transformers-5 forms agree") {
    std::string pythia = read_file(test::bundled_model() + "/config.json");
    ModelConfig a = ModelConfig::parse(pythia);
    CHECK(a.num_layers == 6);
    CHECK(a.num_heads == 4);
    CHECK(a.rotary_ndims() == 8);
    auto j = nlohmann::json::parse(pythia);
    j.erase("rotary_pct");
    j.erase("rotary_emb_base");
    j["rope_parameters"] = {{"rope_type", "default"}, {"partial_rotary_factor", 0.5}, {"rope_theta", 500.0}};
    ModelConfig b = ModelConfig::parse(j.dump());
    CHECK(b.rotary_pct == doctest::Approx(0.5));
    CHECK(b.rotary_base == doctest::Approx(500.0));
  }

  TEST_CASE("config: malformed and missing fields are one-line errors") {
    CHECK(error_of([] { ModelConfig::parse("{not json"); }).find("not valid JSON") != std::string::npos);
    CHECK(error_of([] { ModelConfig::parse("{}"); }).find("missing field 'hidden_size'") != std::string::npos);
    CHECK(error_of([] { ModelConfig::parse(R"({"hidden_size":"x"})"); }).find("wrong type") != std::string::npos);
    auto j = nlohmann::json::parse(read_file(test::bundled_model() + "/config.json"));
    j["hidden_size"] = 130;  // not a multiple of 4 heads... 130 % 4 != 0
    CHECK(error_of([&] { ModelConfig::parse(j.dump()); }).find("multiple") != std::string::npos);
    j = nlohmann::json::parse(read_file(test::bundled_model() + "/config.json"));
    j["hidden_act"] = "relu";
    CHECK(error_of([&] { ModelConfig::parse(j.dump()); }).find("not supported") != std::string::npos);
    CHECK(error_of([] { ModelConfig::load("/nonexistent/dir"); }).find("no such file") != std::string::npos);
  }

  TEST_CASE("sharded checkpoint, F32/BF16 storage and lm_head name load identically") {
    c10::InferenceMode guard;
    Model ref = Model::load(test::bundled_model());
    at::Tensor h_ref = hidden_of(ref);
    auto tensors = bundled_tensors();

    TempDir d;
    copy_meta(d);
    // Two shards, F32 storage, unembedding renamed to lm_head.weight, plus Pythia buffers.
    std::map<std::string, at::Tensor> s1, s2;
    nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
    int i = 0;
    for (auto& [name, t] : tensors) {
      std::string n = name == "embed_out.weight" ? "lm_head.weight" : name;
      auto& shard = (i++ % 2) ? s1 : s2;
      shard[n] = t.to(at::kFloat);
      index["weight_map"][n] = (&shard == &s1) ? "model-00001-of-00002.safetensors"
                                               : "model-00002-of-00002.safetensors";
    }
    s1["gpt_neox.layers.0.attention.rotary_emb.inv_freq"] = at::ones({4});
    index["weight_map"]["gpt_neox.layers.0.attention.rotary_emb.inv_freq"] = "model-00001-of-00002.safetensors";
    test::write_bytes(d.str("model-00001-of-00002.safetensors"), test::safetensors_bytes(s1));
    test::write_bytes(d.str("model-00002-of-00002.safetensors"), test::safetensors_bytes(s2));
    write_file_atomic(d.str("model.safetensors.index.json"), index.dump());
    Model sh = Model::load(d.str());
    CHECK(at::allclose(hidden_of(sh), h_ref, 1e-5, 1e-5));

    TempDir b;
    copy_meta(b);
    std::map<std::string, at::Tensor> bf;
    for (auto& [name, t] : tensors) bf[name] = t.to(at::kBFloat16);
    test::write_bytes(b.str("model.safetensors"), test::safetensors_bytes(bf));
    Model mb = Model::load(b.str());
    double rel = (hidden_of(mb) - h_ref).norm().item<double>() / h_ref.norm().item<double>();
    CHECK(rel < 5e-2);  // bf16 storage rounds the weights
  }

  TEST_CASE("corrupt safetensors files give clear errors") {
    auto tensors = bundled_tensors();
    auto load_err = [&](const std::string& bytes) {
      TempDir d;
      copy_meta(d);
      test::write_bytes(d.str("model.safetensors"), bytes);
      return error_of([&] { Model::load(d.str()); });
    };
    std::string good = test::safetensors_bytes(tensors);
    CHECK(load_err("").find("truncated") != std::string::npos);
    CHECK(load_err(good.substr(0, good.size() / 2)).find("past the end") != std::string::npos);
    std::string lie = good;
    uint64_t huge = 1ull << 40;
    std::memcpy(lie.data(), &huge, 8);
    CHECK(load_err(lie).find("exceeds file size") != std::string::npos);
    std::string garbage = good;
    garbage[8] = '#';
    CHECK(load_err(garbage).find("not valid JSON") != std::string::npos);

    auto missing = tensors;
    missing.erase("gpt_neox.layers.3.mlp.dense_h_to_4h.bias");
    CHECK(load_err(test::safetensors_bytes(missing)).find("missing tensor 'gpt_neox.layers.3.mlp.dense_h_to_4h.bias'") != std::string::npos);
    auto wrong = tensors;
    wrong["gpt_neox.layers.0.attention.dense.weight"] = at::zeros({128, 64}, at::kHalf);
    CHECK(load_err(test::safetensors_bytes(wrong)).find("has shape [128, 64], expected [128, 128]") != std::string::npos);
    CHECK(load_err(test::safetensors_bytes(tensors, [](nlohmann::json& h) {
            h["gpt_neox.embed_in.weight"]["dtype"] = "F8_E4M3";
          })).find("unsupported dtype 'F8_E4M3'") != std::string::npos);
    CHECK(load_err(test::safetensors_bytes(tensors, [](nlohmann::json& h) {
            h["gpt_neox.final_layer_norm.bias"]["shape"] = {127};
          })).find("does not match its shape") != std::string::npos);
    CHECK(load_err(test::safetensors_bytes(tensors, [](nlohmann::json& h) {
            h["gpt_neox.final_layer_norm.bias"]["dtype"] = "I32";
            h["gpt_neox.final_layer_norm.bias"]["shape"] = {64};
          })).find("expected F32, F16 or BF16") != std::string::npos);
    TempDir empty;
    copy_meta(empty);
    CHECK(error_of([&] { Model::load(empty.str()); }).find("no model.safetensors") != std::string::npos);
  }

  TEST_CASE("MappedFile: move-only, no descriptor kept, none leaked on errors") {
    static_assert(!std::is_copy_constructible_v<MappedFile> && !std::is_copy_assignable_v<MappedFile>);
    static_assert(std::is_nothrow_move_constructible_v<MappedFile> &&
                  std::is_nothrow_move_assignable_v<MappedFile>);
    auto open_fds = [] {
      int n = 0;
      for (auto& e : fs::directory_iterator("/proc/self/fd")) n += e.path().empty() ? 0 : 1;
      return n;
    };
    TempDir d;
    test::write_bytes(d.str("f.bin"), "abcdef");
    fs::create_directories(d.str("dir"));
    const int before = open_fds();
    for (int i = 0; i < 50; ++i) {
      // a directory opens but cannot be mapped; a missing file does not open
      CHECK(error_of([&] { MappedFile m(d.str("dir")); }).find("not a regular file") != std::string::npos);
      CHECK(error_of([&] { MappedFile m(d.str("missing")); }).find("cannot open") != std::string::npos);
    }
    MappedFile a(d.str("f.bin"));
    CHECK(open_fds() == before);  // mapped, descriptor already closed
    REQUIRE(a.size() == 6);
    const uint8_t* p = a.data();
    MappedFile b(std::move(a));
    CHECK(b.data() == p);
    CHECK(a.data() == nullptr);
    CHECK(a.size() == 0);
    MappedFile c(d.str("f.bin"));
    c = std::move(b);
    CHECK(c.data() == p);
    CHECK(std::string(reinterpret_cast<const char*>(c.data()), c.size()) == "abcdef");
    // through the model loader: model.safetensors that is a directory
    TempDir m;
    copy_meta(m);
    fs::create_directories(m.str("model.safetensors"));
    CHECK(error_of([&] { Model::load(m.str()); }).find("not a regular file") != std::string::npos);
    CHECK(open_fds() == before);
  }

  TEST_CASE("rotary rotation preserves key norms and positions compose") {
    c10::InferenceMode guard;
    Model m = Model::load(test::bundled_model());
    at::Tensor x = at::randn({4, 10, 32});
    at::Tensor pos = at::arange(10, at::TensorOptions().dtype(at::kLong)) * 7;
    at::Tensor r = m.rotate(x, pos);
    CHECK(at::allclose(r.norm(2, -1), x.norm(2, -1), 1e-4, 1e-5));
    // q.k after rotation depends only on the position difference.
    at::Tensor q = at::randn({1, 1, 32}), k = at::randn({1, 1, 32});
    auto dot = [&](int64_t a, int64_t b) {
      at::Tensor pa = at::full({1}, a, at::kLong), pb = at::full({1}, b, at::kLong);
      return (m.rotate(q, pa) * m.rotate(k, pb)).sum().item<double>();
    };
    CHECK(dot(10, 3) == doctest::Approx(dot(107, 100)).epsilon(1e-4));
  }
}
