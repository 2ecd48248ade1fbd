#include "cli/ablate_documents.h"

#include <cmath>
#include <chrono>
#include <cstdio>
#include <optional>

#include "common/atomic_file.h"
#include "common/progress.h"
#include "common/text.h"
#include "sweep/manifest.h"
#include "sweep/sweep_merge.h"
#include "sweep/unit_eval.h"

namespace headscope::cli {

void ablate_documents(const Model& model, const std::vector<TokenizedDocument>& docs,
                      const AblationPlan& plan, const ClassificationFile* cls,
                      const AblateDocumentsOptions& o) {
  // The same units and merge as a sweep, in memory.
  SweepManifest m;
  m.spec.models = {{o.model_path, o.classifications}};
  m.spec.context = o.context;
  m.spec.stride = o.stride;
  m.spec.max_tokens = o.max_tokens;
  m.spec.bootstrap = o.bootstrap.resamples;
  m.spec.seed = o.bootstrap.seed;
  m.reference_group = plan.reference_group;
  for (const auto& d : docs) m.documents.push_back({d.name, "", 0});
  std::vector<nlohmann::json> results;
  UnitEvalOptions uo;
  uo.context = o.context;
  uo.stride = o.stride;
  const size_t total = docs.size() * (plan.configs.size() + 1);
  auto t0 = std::chrono::steady_clock::now();
  for (size_t di = 0; di < docs.size(); ++di) {
    for (int64_t ci = -1; ci < static_cast<int64_t>(plan.configs.size()); ++ci) {
      const AblationConfig* cfg = ci < 0 ? nullptr : &plan.configs[ci];
      SweepUnit u;
      u.index = static_cast<int64_t>(m.units.size());
      u.model = 0;
      u.document = static_cast<int64_t>(di);
      u.config = cfg ? cfg->name : "dense";
      u.group = cfg ? cfg->group : "";
      u.params = cfg ? cfg->params() : nlohmann::json();
      m.units.push_back(u);
      std::optional<Progress> bar;
      UnitEvalOptions unit_opt = uo;
      const std::string label = "[" + std::to_string(m.units.size()) + "/" + std::to_string(total) + "] " + u.config;
      unit_opt.progress = [&bar, &label](int64_t done, int64_t all) {
        if (!bar) bar.emplace(label, long(all), "blocks");
        bar->update(long(done));
      };
      EvalResult r = evaluate_unit(model, docs[di].ids, cfg, cls, unit_opt);
      if (bar) bar->finish();
      DocScore ds = make_doc_score(docs[di].name, r.nll,
                                   static_cast<int64_t>(std::llround(r.accuracy * double(r.nll.size()))));
      nlohmann::json res = ds.to_json();
      res["tokens"] = static_cast<int64_t>(docs[di].ids.size());
      res["measured_context"] = r.extra["measured_context"];
      results.push_back({{"result", res}, {"wall_s", r.wall_s}});
      std::printf("[%3zu/%zu] %-24s %-40s ppl %9.3f  ctx %7.1f\n", m.units.size(), total,
                  u.config.c_str(),
                  docs[di].name.size() > 40 ? docs[di].name.substr(docs[di].name.size() - 40).c_str()
                                            : docs[di].name.c_str(),
                  r.ppl, r.extra["measured_context"].get<double>());
      std::fflush(stdout);
    }
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json models = merge_unit_results(m, results);
  nlohmann::json out = models[0];
  out["wall_s"] = wall;
  if (!o.provenance.is_null()) out["provenance"] = o.provenance;
  write_file_atomic(o.out, out.dump(1) + "\n");
  std::printf("\n%zu evaluation(s), %.1f s\n\n%s", total, wall, format_merged(models).c_str());
  std::printf("\nresults    %s\n", o.out.c_str());
}

}  // namespace headscope::cli
