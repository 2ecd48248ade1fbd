// The GPT-NeoX forward pass against transformers (fp32 eager) on both shared models:
// logits, per-layer attention maps and per-position NLL for the first 128 WikiText-2 tokens.
#include <doctest/doctest.h>

#include <c10/core/InferenceMode.h>

#include "eval/parallel_eval.h"
#include "model/neox_model.h"
#include "model/parallel_attention.h"
#include "tests/fixture_io.h"
#include "tests/support.h"

using namespace headscope;

namespace {

struct MapCollector : AttentionObserver {
  std::vector<at::Tensor> maps;  // per layer [H, T, T]
  int64_t T;
  explicit MapCollector(int64_t t) : T(t) {}
  void observe(const AttentionBlock& b) override {
    if ((int64_t)maps.size() <= b.layer) maps.resize(b.layer + 1);
    if (!maps[b.layer].defined()) maps[b.layer] = at::zeros({b.probs.size(0), T, T});
    maps[b.layer].narrow(1, b.q_begin, b.probs.size(1)).index_copy_(2, b.key_index, b.probs.cpu());
  }
};

void check_model(const std::string& name) {
  c10::InferenceMode guard;
  const std::string dir = test::shared("models/" + name);
  SafeTensors fx = SafeTensors::open(test::shared("fixtures/" + name + "/forward_wiki128.safetensors"));
  at::Tensor ids = test::fixture_tensor(fx, "input_ids");
  NeoXModel m = NeoXModel::load(dir);
  MapCollector obs(ids.size(0));
  ParallelAttentionOptions po;
  po.observer = &obs;
  po.query_block = 48;  // several blocks, so blocking is exercised
  at::Tensor hidden = m.forward_hidden(ids, parallel_attention(m, po));
  at::Tensor logits = m.logits(hidden);

  auto rel = [](const at::Tensor& a, const at::Tensor& b) {
    return (a - b).norm().item<double>() / b.norm().item<double>();
  };
  double e8 = rel(logits.narrow(0, 0, 8), test::fixture_tensor(fx, "logits_first8"));
  double el = rel(logits[-1], test::fixture_tensor(fx, "logits_last"));
  MESSAGE(name << ": logits rel L2 first8 " << e8 << ", last " << el);
  CHECK(e8 < 1e-4);
  CHECK(el < 1e-4);

  for (int64_t l = 0; l < m.config().num_layers; ++l) {
    at::Tensor ref = test::fixture_tensor(fx, "attn." + std::to_string(l));
    double err = (obs.maps[l] - ref).abs().max().item<double>();
    CHECK_MESSAGE(err < 1e-4, "layer " << l << " attention max abs err " << err);
  }

  std::vector<int64_t> v(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
  EvalResult r = evaluate_parallel(m, v);
  at::Tensor nll_ref = test::fixture_tensor(fx, "nll").to(at::kDouble);
  at::Tensor nll = at::tensor(r.nll, at::TensorOptions().dtype(at::kDouble));
  double enll = (nll - nll_ref).abs().max().item<double>();
  MESSAGE(name << ": max |dNLL| " << enll);
  CHECK(enll < 1e-4);
  at::Tensor am_ref = test::fixture_tensor(fx, "argmax");
  TokenScores sc = m.score(hidden.narrow(0, 0, ids.size(0) - 1), ids.narrow(0, 1, ids.size(0) - 1));
  CHECK(at::equal(sc.argmax, am_ref));
}

}  // namespace

TEST_SUITE("fixture_forward") {
  TEST_CASE("neox-gutenberg-14m matches transformers") { check_model("neox-gutenberg-14m"); }
  TEST_CASE("neox-gutenberg-70m matches transformers") { check_model("neox-gutenberg-70m"); }
}
