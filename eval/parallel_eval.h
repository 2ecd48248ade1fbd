// Parallel evaluation: one forward pass over the whole token sequence (attention applied in
// query blocks, so memory is linear in length for windowed heads), NLL/accuracy for every
// next-token prediction. With a Visibility this is the head-aware mask engine; without, the
// dense baseline. Rotary positions are the tokens' original positions 0..N-1.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "eval/metrics.h"
#include "model/model.h"
#include "model/visibility.h"

namespace headscope {

struct ParallelEvalOptions {
  const Visibility* visibility = nullptr;
  int64_t query_block = 256;
  // Progress in query blocks over all layers (done, total); may be empty.
  std::function<void(int64_t done, int64_t total)> progress;
};

EvalResult evaluate_parallel(const Model& model, const std::vector<int64_t>& ids,
                             const ParallelEvalOptions& opt = {});

}  // namespace headscope
