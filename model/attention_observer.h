// Observer hook: receives each layer's attention probabilities one query block at a time, so
// no caller ever holds every layer's TxT map at once.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

namespace headscope {

struct AttentionBlock {
  int64_t layer = 0;
  int64_t q_begin = 0;   // index (in the forward's sequence) of the block's first query
  at::Tensor probs;      // [H, nq, nk] float32 (on the model's device); 0 where not visible
  at::Tensor key_index;  // [nk] int64 on CPU: sequence index of each key column (ascending)
  bool keys_from_zero = false;  // true when key_index == arange(nk)
};

class AttentionObserver {
 public:
  virtual ~AttentionObserver() = default;
  virtual void observe(const AttentionBlock& block) = 0;
};

}  // namespace headscope
