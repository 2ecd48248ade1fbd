// Strided (sliding-window) perplexity for texts longer than the context a model was trained on,
// with the semantics of Hugging Face's "Perplexity of fixed-length models" guide and
// llama-perplexity: windows of at most `context` tokens start every `stride` tokens; each
// window is a fresh forward pass (rotary positions 0..L-1 inside the window, a policy's sinks
// are the window's first tokens) and scores only the tokens no earlier window scored, i.e. its
// last `stride` tokens (the first window scores all of its tokens; the last window ends at the
// text's end and may score fewer). Every token 1..N-1 is predicted exactly once, with at least
// context - stride tokens of left context once past the first window. stride must be < context:
// with stride == context (disjoint chunks) the guide leaves each window's first token unscored,
// which a test caught; stride = 1 is the (slow) full sliding window.
#pragma once
#include <cstdint>
#include <vector>

#include "eval/metrics.h"
#include "model/model.h"
#include "model/visibility.h"

namespace headscope {

struct StridedWindow {
  int64_t begin = 0, end = 0;  // the window is ids[begin, end)
  int64_t first_target = 0;    // it scores targets ids[first_target, end)
};

// Throws Error unless 2 <= context, 1 <= stride < context, n >= 2.
std::vector<StridedWindow> strided_windows(int64_t n, int64_t context, int64_t stride);

struct StridedEvalOptions {
  int64_t context = 0, stride = 0;
  const Visibility* visibility = nullptr;  // null: dense
  int64_t query_block = 256;
};

// EvalResult over the N-1 predictions, extra: context, stride, windows.
EvalResult evaluate_strided(const Model& model, const std::vector<int64_t>& ids,
                            const StridedEvalOptions& opt);

}  // namespace headscope
