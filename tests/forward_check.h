// Runs a model on the forward_wiki128 fixture input and measures its errors against
// transformers' reference outputs (shared by the CPU and CUDA fixture suites).
#pragma once
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <string>
#include <vector>

#include "eval/parallel_eval.h"
#include "model/model.h"
#include "model/parallel_attention.h"
#include "tests/fixture_io.h"
#include "tests/support.h"

namespace headscope::test {

struct MapCollector : AttentionObserver {
  std::vector<at::Tensor> maps;  // per layer [H, T, T] on CPU
  int64_t T;
  explicit MapCollector(int64_t t) : T(t) {}
  void observe(const AttentionBlock& b) override {
    if ((int64_t)maps.size() <= b.layer) maps.resize(b.layer + 1);
    if (!maps[b.layer].defined()) maps[b.layer] = at::zeros({b.probs.size(0), T, T});
    maps[b.layer].narrow(1, b.q_begin, b.probs.size(1)).index_copy_(2, b.key_index, b.probs.cpu());
  }
};

struct ForwardErrors {
  double logits_first8 = 0, logits_last = 0;  // relative L2
  std::vector<double> attn_max;               // per layer, max abs
  double nll_max = 0;                          // max abs
  bool argmax_equal = false;
};

inline ForwardErrors forward_errors(const std::string& model_name, at::Device dev, at::ScalarType dt) {
  c10::InferenceMode guard;
  SafeTensors fx = SafeTensors::open(shared("fixtures/" + model_name + "/forward_wiki128.safetensors"));
  at::Tensor ids = fixture_tensor(fx, "input_ids");
  Model m = Model::load(shared("models/" + model_name), dev, dt);
  MapCollector obs(ids.size(0));
  ParallelAttentionOptions po;
  po.observer = &obs;
  po.query_block = 48;  // several blocks, so blocking is exercised
  at::Tensor hidden = m.forward_hidden(ids, parallel_attention(m, po));
  at::Tensor logits = m.logits(hidden).cpu();
  auto rel = [](const at::Tensor& a, const at::Tensor& b) {
    return (a - b).norm().item<double>() / b.norm().item<double>();
  };
  ForwardErrors e;
  e.logits_first8 = rel(logits.narrow(0, 0, 8), fixture_tensor(fx, "logits_first8"));
  e.logits_last = rel(logits[-1], fixture_tensor(fx, "logits_last"));
  for (int64_t l = 0; l < m.config().num_layers; ++l)
    e.attn_max.push_back((obs.maps[l] - fixture_tensor(fx, "attn." + std::to_string(l))).abs().max().item<double>());
  std::vector<int64_t> v(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
  EvalResult r = evaluate_parallel(m, v);
  at::Tensor nll = at::tensor(r.nll, at::TensorOptions().dtype(at::kDouble));
  e.nll_max = (nll - fixture_tensor(fx, "nll").to(at::kDouble)).abs().max().item<double>();
  TokenScores sc = m.score(hidden.narrow(0, 0, ids.size(0) - 1), ids.narrow(0, 1, ids.size(0) - 1));
  e.argmax_equal = at::equal(sc.argmax, fixture_tensor(fx, "argmax"));
  return e;
}

}  // namespace headscope::test
