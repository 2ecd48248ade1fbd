// Parity with NVIDIA kvpress (0.5.5, on transformers, CPU fp32) under the prefill protocol:
// tests/fixtures/kvpress/<model>.json holds, for the same token ids, kvpress's PPL of the
// continuation for StreamingLLMPress, KnormPress, SnapKVPress, TOVAPress and AdaKVPress(SnapKV)
// at two compression ratios, plus the uncompressed baseline, written by
// bench/peers/kvpress_prefill_ppl.py. headscope's evaluate_prefill on the same ids must agree
// within 1e-3 relative PPL, and keep the same number of entries per layer.
// The models come from ../shared (skipped without it).
#include <doctest/doctest.h>

#include <ATen/Parallel.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>

#include <nlohmann/json.hpp>

#include "compress/prefill_press.h"
#include "eval/prefill_eval.h"
#include "model/model.h"
#include "tests/support.h"

using namespace headscope;

namespace {

void check_fixture(const std::string& fixture, const std::string& model_dir, const std::string& model_path) {
  std::ifstream f(test::repo("tests/fixtures/kvpress/" + fixture));
  REQUIRE_MESSAGE(f.good(), "missing fixture " << fixture);
  const nlohmann::json j = nlohmann::json::parse(f);
  at::set_num_threads(2);
  Model model = Model::load(model_path);
  const std::vector<int64_t> ids = j["ids"].get<std::vector<int64_t>>();
  const int64_t N = j["context_tokens"].get<int64_t>();
  const auto& po = j["press_options"];
  for (const auto& r : j["results"]) {
    const std::string press = r["press"].get<std::string>();
    const double ratio = r["compression_ratio"].get<double>();
    PrefillPressOptions o;
    o.compression_ratio = ratio;
    o.n_sink = po["streaming_llm"]["n_sink"].get<int64_t>();
    o.window_size = po["snapkv"]["window_size"].get<int64_t>();
    o.kernel_size = po["snapkv"]["kernel_size"].get<int64_t>();
    o.inner = po["adakv"]["press"].get<std::string>();
    o.alpha_safeguard = po["adakv"]["alpha_safeguard"].get<double>();
    std::unique_ptr<PrefillPress> p;
    if (press != "dense") p = make_prefill_press(press, o);
    PrefillEvalOptions e;
    e.context_tokens = N;
    e.press = p.get();
    PrefillResult got = evaluate_prefill(model, ids, e);
    const double want = r["ppl"].get<double>();
    INFO(model_dir << " " << press << " ratio " << ratio << ": headscope " << got.eval.ppl << ", kvpress "
                   << want);
    // KnormPress ranks keys by L2 norm. Rotary embedding preserves a key's norm, so in the first
    // layer every repetition of a token has the same key norm: exact ties at the cut, which
    // torch.topk (kvpress) and headscope (the later slot wins) break differently. Measured on
    // the TinyStories fixture at ratio 0.5: 3 of 4 layer-0 KV heads have a zero norm gap at the
    // cut (bench/peers/knorm_ties.py); the PPLs then differ by 1.3e-3. Every other press: 1e-3.
    const double tol = press == "knorm" ? 2e-3 : 1e-3;
    CHECK(std::abs(got.eval.ppl - want) <= tol * want);
    // kvpress's per-layer cache length x KV heads (AdaKV keeps all and masks: compare totals)
    if (press != "adakv") {
      const auto kept = r["cache_entries_after_prefill"].get<std::vector<int64_t>>();
      CHECK(got.kept_per_layer == kept);
    }
    MESSAGE(model_dir << " " << press << " " << ratio << ": headscope " << std::setprecision(8)
                      << got.eval.ppl << ", kvpress " << want << ", |dPPL|/PPL = "
                      << std::setprecision(3) << std::abs(got.eval.ppl - want) / want);
  }
}

}  // namespace

TEST_SUITE("fixture_kvpress") {
  TEST_CASE("prefill-protocol PPL equals kvpress's on neox-gutenberg-70m") {
    check_fixture("neox-gutenberg-70m.json", "neox-gutenberg-70m", test::shared("models/neox-gutenberg-70m"));
  }
  // The bundled Llama (GQA 8:4): kvpress runs it unchanged; presses act per KV head.
  TEST_CASE("prefill-protocol PPL equals kvpress's on the bundled TinyStories Llama (GQA)") {
    check_fixture("llama-tinystories-656k.json", "llama-tinystories-656k",
                  test::repo("models/llama-tinystories-656k"));
  }
}
