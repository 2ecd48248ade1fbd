// The same fixtures on CUDA (run on the GPU machine; reported skipped where libtorch has no
// CUDA or no GPU is visible): fp32 with the CPU tolerances, bf16 logits relative error < 2e-2.
#include <doctest/doctest.h>

#include "tests/forward_check.h"

using namespace headscope;

TEST_SUITE("fixture_cuda") {
  TEST_CASE("forward fp32 on CUDA matches transformers (CPU tolerances)") {
    for (const char* name : {"neox-gutenberg-14m", "neox-gutenberg-70m"}) {
      test::ForwardErrors e = test::forward_errors(name, at::Device(at::kCUDA, 0), at::kFloat);
      MESSAGE(name << " cuda f32: logits rel " << e.logits_first8 << "/" << e.logits_last
                   << ", max |dNLL| " << e.nll_max);
      CHECK(e.logits_first8 < 1e-4);
      CHECK(e.logits_last < 1e-4);
      for (double a : e.attn_max) CHECK(a < 1e-4);
      CHECK(e.nll_max < 1e-4);
    }
  }
  TEST_CASE("forward bf16 on CUDA: logits relative error < 2e-2") {
    for (const char* name : {"neox-gutenberg-14m", "neox-gutenberg-70m"}) {
      test::ForwardErrors e = test::forward_errors(name, at::Device(at::kCUDA, 0), at::kBFloat16);
      MESSAGE(name << " cuda bf16: logits rel " << e.logits_first8 << "/" << e.logits_last
                   << ", max |dNLL| " << e.nll_max);
      CHECK(e.logits_first8 < 2e-2);
      CHECK(e.logits_last < 2e-2);
    }
  }
}
