#include "sweep/unit_eval.h"

#include "eval/parallel_eval.h"
#include "eval/strided_eval.h"
#include "headaware/ablation_runner.h"

namespace headscope {

EvalResult evaluate_unit(const Model& model, const std::vector<int64_t>& ids,
                         const AblationConfig* cfg, const ClassificationFile* cls,
                         const UnitEvalOptions& opt) {
  const auto& c = model.config();
  const int64_t T = static_cast<int64_t>(ids.size());
  Visibility vis = cfg ? cfg->build(c.num_layers, c.num_heads, cls) : Visibility(c.num_layers, c.num_heads);
  const Visibility* v = cfg ? &vis : nullptr;
  const int64_t span = opt.context > 0 ? std::min(opt.context, T) : T;
  const int64_t qb = opt.query_block > 0 ? opt.query_block : auto_query_block(span, model.device().is_cuda());
  EvalResult r;
  double measured = 0;
  if (opt.context > 0) {
    StridedEvalOptions so;
    so.context = opt.context;
    so.stride = opt.stride;
    so.visibility = v;
    so.query_block = qb;
    r = evaluate_strided(model, ids, so);
    // keys seen by each scored query (window-relative index q sees visible_count(q) keys)
    double total = 0;
    for (const auto& w : strided_windows(T, opt.context, opt.stride))
      for (int64_t t = w.first_target; t < w.end; ++t) {
        const int64_t q = t - 1 - w.begin;
        double s = 0;
        for (int64_t l = 0; l < vis.layers(); ++l)
          for (int64_t h = 0; h < vis.heads(); ++h) s += double(vis.at(l, h).visible_count(q));
        total += s / double(vis.layers() * vis.heads());
      }
    measured = total / double(T - 1);
  } else {
    ParallelEvalOptions po;
    po.visibility = v;
    po.query_block = qb;
    po.progress = opt.progress;
    r = evaluate_parallel(model, ids, po);
    measured = vis.measured_context(T);
  }
  r.method = cfg ? cfg->name : "dense";
  r.extra["measured_context"] = measured;
  return r;
}

}  // namespace headscope
