#include "analyzer/head_statistics.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace headscope {

BlockSums reduce_attention_block(const at::Tensor& probs_in, int64_t q_begin, int64_t key_begin,
                                 int64_t key_len, const StatsOptions& opt) {
  c10::InferenceMode guard;
  require(probs_in.dim() == 3, "attention block must be [heads, queries, keys]");
  const at::Tensor P = probs_in.to(at::kFloat);
  const int64_t nq = P.size(1), nk = P.size(2);
  const auto dev = P.device();
  const auto lopt = at::TensorOptions().dtype(at::kLong).device(dev);
  const auto fopt = at::TensorOptions().dtype(at::kFloat).device(dev);
  const float eps = 1e-10f;

  // Entropy: -sum A log(A + eps), the original's expression. (In-place log_: libtorch 1.13's
  // out-of-place at::log is tens of times slower on CPU.)
  at::Tensor plogp = P + eps;
  plogp.log_();
  plogp.mul_(P);
  at::Tensor plogp_sum = plogp.sum(-1);  // [H, nq]
  plogp = at::Tensor();
  at::Tensor entropy = plogp_sum.neg();
  at::Tensor mx = P.amax(-1);
  at::Tensor rowsum = P.sum(-1);

  // Sink keys: sequence positions < sink_size.
  const int64_t sink_cols = std::clamp<int64_t>(opt.sink_size - key_begin, 0, nk);
  at::Tensor sink = sink_cols > 0 ? P.narrow(2, 0, sink_cols).sum(-1) : at::zeros_like(mx);
  // Recent keys: positions >= floor(L * (1 - recent_ratio)) (Python int() of a double).
  const int64_t recent_start =
      std::max<int64_t>(0, static_cast<int64_t>(double(key_len) * (1.0 - opt.recent_ratio)));
  const int64_t rc0 = std::clamp<int64_t>(recent_start - key_begin, 0, nk);
  at::Tensor recent = rc0 < nk ? P.narrow(2, rc0, nk - rc0).sum(-1) : at::zeros_like(mx);

  at::Tensor qpos = at::arange(q_begin, q_begin + nq, lopt).view({nq, 1});

  // KL(A || uniform over q+1 keys) = sum A log(A+eps) - log(1/(q+1) + eps) * sum A.
  at::Tensor qf = at::arange(q_begin, q_begin + nq, fopt);
  at::Tensor log_u = at::reciprocal(qf + 1.0f).add_(eps).log_();  // [nq]
  at::Tensor kl = plogp_sum - rowsum * log_u.view({1, nq});
  at::Tensor kl_valid = qf.ge(1.0f).to(at::kFloat);
  const int64_t kl_queries = std::max<int64_t>(0, q_begin + nq - std::max<int64_t>(q_begin, 1));

  // Relative-position profile: A[q, q - d] for d < D, gathered in one op. The local share
  // (0 <= q - k <= local_window) is the sum of its first local_window + 1 entries.
  const int64_t D = std::max(opt.max_distance, opt.local_window + 1);
  at::Tensor d = at::arange(D, lopt).view({1, D});
  at::Tensor col = qpos - d - key_begin;  // [nq, D]
  at::Tensor valid = col.ge(0).logical_and(col.lt(nk)).logical_and((qpos - d).ge(0));
  at::Tensor idx = col.clamp(0, std::max<int64_t>(0, nk - 1));
  at::Tensor byd = P.gather(2, idx.unsqueeze(0).expand({P.size(0), nq, D}))
                       .mul_(valid.to(at::kFloat))
                       .sum(1);  // [H, D]
  at::Tensor local_sum = byd.narrow(1, 0, opt.local_window + 1).sum(1);
  at::Tensor rel = byd.narrow(1, 0, opt.max_distance);

  at::Tensor sums = at::stack({entropy.sum(1), mx.sum(1), sink.sum(1), recent.sum(1),
                               local_sum, (kl * kl_valid).sum(1)},
                              1);
  BlockSums out;
  out.sums = at::cat({sums, rel}, 1).cpu().contiguous();
  out.queries = nq;
  out.kl_queries = kl_queries;
  return out;
}

}  // namespace headscope
