// The GPT-NeoX forward pass against transformers (fp32 eager) on both shared models:
// logits (relative L2 < 1e-4), per-layer attention maps (max abs < 1e-4) and per-position NLL
// (< 1e-4) for the first 128 WikiText-2 tokens, fp32 on CPU.
#include <doctest/doctest.h>

#include "tests/forward_check.h"

using namespace headscope;

static void check_cpu(const std::string& name) {
  test::ForwardErrors e = test::forward_errors(name, at::kCPU, at::kFloat);
  MESSAGE(name << ": logits rel L2 first8 " << e.logits_first8 << ", last " << e.logits_last
               << "; max |dNLL| " << e.nll_max);
  CHECK(e.logits_first8 < 1e-4);
  CHECK(e.logits_last < 1e-4);
  for (size_t l = 0; l < e.attn_max.size(); ++l)
    CHECK_MESSAGE(e.attn_max[l] < 1e-4, "layer " << l << " attention max abs err " << e.attn_max[l]);
  CHECK(e.nll_max < 1e-4);
  CHECK(e.argmax_equal);
}

TEST_SUITE("fixture_forward") {
  TEST_CASE("neox-gutenberg-14m matches transformers") { check_cpu("neox-gutenberg-14m"); }
  TEST_CASE("neox-gutenberg-70m matches transformers") { check_cpu("neox-gutenberg-70m"); }
}
