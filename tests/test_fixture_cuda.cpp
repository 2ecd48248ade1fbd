// The same fixtures on CUDA (run on the GPU machine; reported skipped where libtorch has no
// CUDA or no GPU is visible): fp32 with the CPU tolerances, bf16 logits relative error < 2e-2.
#include <doctest/doctest.h>

#include <filesystem>

#include "tests/forward_check.h"

using namespace headscope;

// The models whose fixtures are present (the GPU machine gets only the 14m model's: the 70m
// model is too large to carry); the 14m fixtures are required.
static std::vector<std::string> cuda_models() {
  std::vector<std::string> names;
  for (const char* n : {"neox-gutenberg-14m", "neox-gutenberg-70m"})
    if (std::filesystem::exists(test::shared(std::string("fixtures/") + n + "/forward_wiki128.safetensors")) &&
        std::filesystem::exists(test::shared(std::string("models/") + n + "/model.safetensors")))
      names.push_back(n);
  const bool has_14m = !names.empty() && names[0] == "neox-gutenberg-14m";
  REQUIRE_MESSAGE(has_14m, "14m fixtures missing");
  return names;
}

TEST_SUITE("fixture_cuda") {
  TEST_CASE("forward fp32 on CUDA matches transformers (CPU tolerances)") {
    for (const std::string& name : cuda_models()) {
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
    for (const std::string& name : cuda_models()) {
      test::ForwardErrors e = test::forward_errors(name, at::Device(at::kCUDA, 0), at::kBFloat16);
      MESSAGE(name << " cuda bf16: logits rel " << e.logits_first8 << "/" << e.logits_last
                   << ", max |dNLL| " << e.nll_max);
      CHECK(e.logits_first8 < 2e-2);
      CHECK(e.logits_last < 2e-2);
    }
  }
}
