#include "headaware/allocator.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <set>
#include <tuple>

#include "common/error.h"
#include "common/progress.h"
#include "eval/parallel_eval.h"
#include "model/attention_observer.h"
#include "model/parallel_attention.h"

namespace headscope {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double joint_nll(const Model& model, const std::vector<int64_t>& ids, const Visibility& v,
                 int64_t query_block) {
  ParallelEvalOptions po;
  po.visibility = &v;
  po.query_block = query_block;
  return evaluate_parallel(model, ids, po).mean_nll;
}

std::string cand_str(const HeadWindow& w) {
  if (w.full()) return "full";
  if (w.dead()) return "dead";
  return std::to_string(w.sink) + "+" + std::to_string(w.window);
}

void check_kind(const std::string& kind) {
  require(kind == "context" || kind == "bytes",
          "--budget-kind must be context or bytes, got '" + kind + "'");
}

}  // namespace

int64_t model_kv_heads(const Model& model) { return model.config().num_kv_heads; }

double kv_bytes_per_entry(const Model& model) {
  return 2.0 * double(model.config().head_dim()) * double(at::elementSize(model.dtype()));
}

std::vector<HeadWindow> candidate_grid(const std::vector<int64_t>& sinks,
                                       const std::vector<int64_t>& windows) {
  require(!windows.empty(), "empty candidate grid: --windows lists no window");
  for (int64_t s : sinks) require(s >= 0, "--sinks: sink sizes must be >= 0, got " + std::to_string(s));
  for (int64_t w : windows)
    require(w >= -1, "--windows: windows must be -1 (full), 0 (dead) or positive, got " +
                         std::to_string(w));
  std::vector<HeadWindow> out;
  std::set<std::pair<int64_t, int64_t>> seen;
  auto add = [&](int64_t s, int64_t w) {
    if (seen.insert({s, w}).second) out.push_back(HeadWindow{s, w});
  };
  std::vector<int64_t> ws = windows;
  std::sort(ws.begin(), ws.end(), [](int64_t a, int64_t b) {
    return (a < 0 ? INT64_MAX : a) < (b < 0 ? INT64_MAX : b);
  });
  for (int64_t w : ws) {
    if (w <= 0) {
      add(0, w);
      continue;
    }
    require(!sinks.empty(), "empty candidate grid: --sinks lists no sink size");
    for (int64_t s : sinks) add(s, w);
  }
  require(!out.empty(), "empty candidate grid");
  return out;
}

double candidate_cost(const HeadWindow& w, int64_t T, const std::string& kind,
                      double bytes_per_entry) {
  if (kind == "context") {
    double s = 0;
    for (int64_t q = 0; q < T; ++q) s += double(w.visible_count(q));
    return T > 0 ? s / double(T) : 0.0;
  }
  // entries kept after the last token (next position T): the keys the next query would see
  int64_t entries;
  if (w.full()) entries = T;
  else if (w.dead()) entries = 0;
  else {
    const int64_t recent = std::min(T, w.window - 1);
    entries = recent + std::min(w.sink, std::max<int64_t>(0, T - recent));
  }
  return double(entries) * bytes_per_entry;
}

AllocationProfile profile_heads(const Model& model, const std::vector<int64_t>& ids,
                                const AllocatorOptions& opt) {
  AllocationProfile p;
  p.candidates = candidate_grid(opt.sinks, opt.windows);
  p.layers = model.config().num_layers;
  p.kv_heads = model_kv_heads(model);
  p.tokens = static_cast<int64_t>(ids.size());
  const int64_t H = p.layers * p.kv_heads, C = static_cast<int64_t>(p.candidates.size());
  auto t0 = std::chrono::steady_clock::now();
  Visibility full = Visibility::causal(p.layers, p.kv_heads);
  p.dense_nll = joint_nll(model, ids, full, opt.query_block);
  p.forwards = 1;
  // candidates that hide nothing on this text are full context (dNLL 0, no forward)
  std::vector<bool> is_full(static_cast<size_t>(C));
  int64_t per_head = 0;
  for (int64_t c = 0; c < C; ++c) {
    const HeadWindow& w = p.candidates[size_t(c)];
    is_full[size_t(c)] = w.full() || (w.window > 0 && w.window >= p.tokens);
    per_head += !is_full[size_t(c)];
  }
  if (opt.log)
    std::fprintf(opt.log,
                 "profile    %lld heads x %lld candidates (%lld need a forward each), %lld tokens, "
                 "dense NLL %.5f\n",
                 (long long)H, (long long)C, (long long)per_head, (long long)p.tokens, p.dense_nll);
  p.dnll.assign(size_t(H), std::vector<double>(size_t(C), 0.0));
  // Each profiled policy differs from dense only from layer l on: the dense inputs of every
  // layer are computed once and each forward starts at its head's layer.
  c10::InferenceMode guard;
  at::Tensor t = at::tensor(ids, at::TensorOptions().dtype(at::kLong));
  at::Tensor targets = t.narrow(0, 1, p.tokens - 1);
  ParallelAttentionOptions dense_po;
  dense_po.query_block = opt.query_block;
  std::vector<at::Tensor> inputs;
  {
    at::Tensor x = model.embed(t);
    AttentionFn dense_attend = parallel_attention(model, dense_po);
    for (int64_t l = 0; l < p.layers; ++l) {
      inputs.push_back(x);
      x = model.layer_forward(l, x, dense_attend);
    }
  }
  auto nll_from = [&](int64_t layer, const Visibility& v) {
    ParallelAttentionOptions po;
    po.visibility = &v;
    po.query_block = opt.query_block;
    AttentionFn attend = parallel_attention(model, po);
    at::Tensor x = inputs[size_t(layer)];
    for (int64_t l = layer; l < p.layers; ++l) x = model.layer_forward(l, x, attend);
    at::Tensor hidden = model.final_norm(x);
    TokenScores sc = model.score(hidden.narrow(0, 0, p.tokens - 1), targets);
    return sc.nll.mean().item<double>();
  };
  const double dense_check = nll_from(p.layers - 1, full);
  require(std::abs(dense_check - p.dense_nll) < 1e-6,
          "internal: the layer-resumed forward differs from the full forward");
  Progress bar("profile", long(H * per_head), "evaluations");
  long done = 0;
  for (int64_t l = 0; l < p.layers; ++l) {
    auto tl = std::chrono::steady_clock::now();
    for (int64_t h = 0; h < p.kv_heads; ++h) {
      for (int64_t c = 0; c < C; ++c) {
        if (is_full[size_t(c)]) continue;
        Visibility v = full;
        v.at(l, h) = p.candidates[size_t(c)];
        p.dnll[size_t(l * p.kv_heads + h)][size_t(c)] = nll_from(l, v) - p.dense_nll;
        ++p.forwards;
        bar.update(++done);
      }
    }
    if (opt.log) {
      std::fprintf(opt.log, "profile    layer %lld/%lld done (%.1f s, %.1f s total)\n",
                   (long long)l + 1, (long long)p.layers, seconds_since(tl), seconds_since(t0));
      std::fflush(opt.log);
    }
  }
  bar.finish();
  p.seconds = seconds_since(t0);
  return p;
}

std::vector<int64_t> select_under_budget(const std::vector<std::vector<double>>& d,
                                         const std::vector<double>& cost, double total_budget,
                                         double* lambda_out, int64_t* fills_out) {
  const int64_t H = int64_t(d.size()), C = int64_t(cost.size());
  auto choose = [&](double lambda, std::vector<int64_t>& pick) {
    double total = 0;
    for (int64_t h = 0; h < H; ++h) {
      int64_t best = 0;
      double bv = INFINITY;
      for (int64_t c = 0; c < C; ++c) {
        const double v = d[size_t(h)][size_t(c)] + lambda * cost[size_t(c)];
        if (v < bv - 1e-15 || (std::abs(v - bv) <= 1e-15 && cost[size_t(c)] < cost[size_t(best)])) {
          bv = v;
          best = c;
        }
      }
      pick[size_t(h)] = best;
      total += cost[size_t(best)];
    }
    return total;
  };
  std::vector<int64_t> pick(static_cast<size_t>(H));
  double lo = 0, hi = 1e-6, lambda = 0;
  double total = choose(0, pick);
  if (total > total_budget) {
    int doublings = 0;
    while (choose(hi, pick) > total_budget) {
      require(++doublings < 400, "the budget cannot be met by the candidate grid");
      hi *= 2;
    }
    for (int it = 0; it < 100; ++it) {
      const double mid = 0.5 * (lo + hi);
      if (choose(mid, pick) > total_budget) lo = mid;
      else hi = mid;
    }
    lambda = hi;
    total = choose(hi, pick);
  }
  // greedy fill of the slack: the best predicted saving per unit of cost
  int64_t fills = 0;
  for (;;) {
    double best_ratio = 0;
    int64_t bh = -1, bc = -1;
    for (int64_t h = 0; h < H; ++h) {
      const int64_t cur = pick[size_t(h)];
      for (int64_t c = 0; c < C; ++c) {
        const double dc = cost[size_t(c)] - cost[size_t(cur)];
        const double dd = d[size_t(h)][size_t(c)] - d[size_t(h)][size_t(cur)];
        if (dc <= 0 || dd >= 0 || total + dc > total_budget) continue;
        const double ratio = -dd / dc;
        if (ratio > best_ratio) {
          best_ratio = ratio;
          bh = h;
          bc = c;
        }
      }
    }
    if (bh < 0) break;
    total += cost[size_t(bc)] - cost[size_t(pick[size_t(bh)])];
    pick[size_t(bh)] = bc;
    ++fills;
  }
  if (lambda_out) *lambda_out = lambda;
  if (fills_out) *fills_out = fills;
  return pick;
}

Allocation allocate_from_profile(const Model& model, const std::vector<int64_t>& ids,
                                 const AllocationProfile& prof, const AllocatorOptions& opt) {
  check_kind(opt.budget_kind);
  const int64_t H = prof.layers * prof.kv_heads, C = int64_t(prof.candidates.size());
  const double bpe = kv_bytes_per_entry(model);
  std::vector<double> cost(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c)
    cost[size_t(c)] = candidate_cost(prof.candidates[size_t(c)], prof.tokens, opt.budget_kind, bpe);
  // budget as a total over heads
  const double total_budget = opt.budget_kind == "context" ? opt.budget * double(H) : opt.budget;
  const double cheapest = *std::min_element(cost.begin(), cost.end());
  require(cheapest * double(H) <= total_budget * (1 + 1e-12),
          "budget " + std::to_string(opt.budget) + " is below the cheapest candidate (" +
              std::to_string(opt.budget_kind == "context" ? cheapest : cheapest * double(H)) +
              (opt.budget_kind == "context" ? " keys per query" : " bytes") + ")");
  const auto& d = prof.dnll;
  double lambda = 0;
  int64_t fills = 0;
  std::vector<int64_t> pick = select_under_budget(d, cost, total_budget, &lambda, &fills);
  double total = 0;
  for (int64_t h = 0; h < H; ++h) total += cost[size_t(pick[size_t(h)])];
  auto predicted = [&](const std::vector<int64_t>& pk) {
    double s = 0;
    for (int64_t h = 0; h < H; ++h) s += d[size_t(h)][size_t(pk[size_t(h)])];
    return s;
  };
  auto to_vis = [&](const std::vector<int64_t>& pk) {
    Visibility v(prof.layers, prof.kv_heads);
    for (int64_t h = 0; h < H; ++h)
      v.at(h / prof.kv_heads, h % prof.kv_heads) = prof.candidates[size_t(pk[size_t(h)])];
    return v;
  };
  auto t0 = std::chrono::steady_clock::now();
  double cur_nll = joint_nll(model, ids, to_vis(pick), opt.query_block);
  const double nll_before_refine = cur_nll;
  if (opt.log)
    std::fprintf(opt.log,
                 "price      lambda %.4g: predicted dNLL %.5f (after filling the slack with "
                 "%lld upgrade(s)), true joint NLL %.5f (dense %.5f)\n",
                 lambda, predicted(pick), (long long)fills, cur_nll, prof.dense_nll);
  // refine: pair swaps judged by the true joint NLL
  std::mt19937_64 rng(opt.seed);
  int64_t evaluated = 0, accepted = 0;
  std::set<std::vector<int64_t>> tried;
  while (evaluated < opt.refine) {
    struct Move { double pred; int64_t a, ca, b, cb; };
    std::vector<Move> moves;
    for (int64_t a = 0; a < H; ++a) {
      const int64_t ua = pick[size_t(a)];
      // a's next dearer candidate that is predicted better
      int64_t up = -1;
      for (int64_t c = 0; c < C; ++c)
        if (cost[size_t(c)] > cost[size_t(ua)] && d[size_t(a)][size_t(c)] < d[size_t(a)][size_t(ua)] &&
            (up < 0 || cost[size_t(c)] < cost[size_t(up)]))
          up = c;
      if (up < 0) continue;
      for (int64_t b = 0; b < H; ++b) {
        if (b == a) continue;
        const int64_t ub = pick[size_t(b)];
        for (int64_t c = 0; c < C; ++c) {
          if (cost[size_t(c)] >= cost[size_t(ub)]) continue;
          const double nt = total + cost[size_t(up)] - cost[size_t(ua)] + cost[size_t(c)] - cost[size_t(ub)];
          if (nt > total_budget) continue;
          const double pred = d[size_t(a)][size_t(up)] - d[size_t(a)][size_t(ua)] +
                              d[size_t(b)][size_t(c)] - d[size_t(b)][size_t(ub)];
          moves.push_back({pred, a, up, b, c});
        }
      }
    }
    std::sort(moves.begin(), moves.end(), [](const Move& x, const Move& y) {
      return std::tie(x.pred, x.a, x.b, x.ca, x.cb) < std::tie(y.pred, y.a, y.b, y.ca, y.cb);
    });
    // the most promising moves not tried yet, in a seeded order
    std::vector<Move> pool;
    for (const auto& m : moves) {
      std::vector<int64_t> np = pick;
      np[size_t(m.a)] = m.ca;
      np[size_t(m.b)] = m.cb;
      if (tried.count(np)) continue;
      pool.push_back(m);
      if (int64_t(pool.size()) >= 3 * std::max<int64_t>(1, opt.refine - evaluated)) break;
    }
    if (pool.empty()) break;
    std::shuffle(pool.begin() + std::min<size_t>(1, pool.size()), pool.end(), rng);
    bool improved = false;
    for (const auto& m : pool) {
      if (evaluated >= opt.refine) break;
      std::vector<int64_t> np = pick;
      np[size_t(m.a)] = m.ca;
      np[size_t(m.b)] = m.cb;
      tried.insert(np);
      const double nll = joint_nll(model, ids, to_vis(np), opt.query_block);
      ++evaluated;
      if (opt.log)
        std::fprintf(opt.log, "refine     [%lld/%lld] head %lld %s->%s, head %lld %s->%s: NLL %.5f (%s)\n",
                     (long long)evaluated, (long long)opt.refine, (long long)m.a,
                     cand_str(prof.candidates[size_t(pick[size_t(m.a)])]).c_str(),
                     cand_str(prof.candidates[size_t(m.ca)]).c_str(), (long long)m.b,
                     cand_str(prof.candidates[size_t(pick[size_t(m.b)])]).c_str(),
                     cand_str(prof.candidates[size_t(m.cb)]).c_str(), nll,
                     nll < cur_nll ? "accepted" : "rejected");
      if (nll < cur_nll) {
        total += cost[size_t(m.ca)] - cost[size_t(pick[size_t(m.a)])] + cost[size_t(m.cb)] -
                 cost[size_t(pick[size_t(m.b)])];
        pick = np;
        cur_nll = nll;
        ++accepted;
        improved = true;
        break;  // re-rank from the new policy
      }
    }
    if (!improved && evaluated >= opt.refine) break;
  }
  Allocation a;
  a.policy = to_vis(pick);
  a.cost = opt.budget_kind == "context" ? total / double(H) : total;
  a.measured_context = a.policy.measured_context(prof.tokens);
  a.predicted_dnll = predicted(pick);
  a.nll = cur_nll;
  a.dense_nll = prof.dense_nll;
  a.report = {{"method", "lagrangian"},
              {"budget", opt.budget},
              {"budget_kind", opt.budget_kind},
              {"lambda", lambda},
              {"slack_fills", fills},
              {"refine_evaluated", evaluated},
              {"refine_accepted", accepted},
              {"refine_seconds", seconds_since(t0)},
              {"seed", opt.seed},
              {"nll_before_refine", nll_before_refine},
              {"nll", cur_nll},
              {"dense_nll", prof.dense_nll},
              {"predicted_dnll", a.predicted_dnll},
              {"profile_seconds", prof.seconds},
              {"profile_forwards", prof.forwards},
              {"calibration_tokens", prof.tokens}};
  if (opt.budget_kind == "bytes") a.report["bytes"] = total;
  return a;
}

namespace {

// Recovered attention mass per (layer, query head, candidate): sum over the queries of the
// mass on the keys the candidate lets the query see.
class MassObserver : public AttentionObserver {
 public:
  MassObserver(int64_t layers, int64_t heads, const std::vector<HeadWindow>& cands)
      : heads_(heads), cands_(cands),
        mass_(size_t(layers * heads * int64_t(cands.size())), 0.0) {}
  void observe(const AttentionBlock& b) override {
    at::Tensor p = b.probs.to(at::kCPU, at::kFloat);  // [H, nq, nk]
    const int64_t nq = p.size(1);
    at::Tensor qi = at::arange(b.q_begin, b.q_begin + nq, at::kLong).unsqueeze(1);  // [nq,1]
    at::Tensor ki = b.key_index.to(at::kLong).unsqueeze(0);                         // [1,nk]
    at::Tensor dist = qi - ki;
    for (size_t c = 0; c < cands_.size(); ++c) {
      const HeadWindow& w = cands_[c];
      at::Tensor vis;
      if (w.full()) vis = dist >= 0;
      else if (w.dead()) vis = dist == 0;
      else vis = (dist >= 0) & ((ki < w.sink) | (dist < w.window));
      at::Tensor m = (p * vis.to(at::kFloat).unsqueeze(0)).sum({1, 2}).to(at::kDouble);  // [H]
      const double* mp = m.data_ptr<double>();
      for (int64_t h = 0; h < heads_; ++h)
        mass_[size_t((b.layer * heads_ + h) * int64_t(cands_.size()) + int64_t(c))] += mp[h];
    }
  }
  double mass(int64_t l, int64_t h, size_t c) const {
    return mass_[size_t((l * heads_ + h) * int64_t(cands_.size()) + int64_t(c))];
  }

 private:
  int64_t heads_;
  std::vector<HeadWindow> cands_;
  std::vector<double> mass_;
};

}  // namespace

Allocation allocate_fastgen(const Model& model, const std::vector<int64_t>& ids,
                            const AllocatorOptions& opt) {
  check_kind(opt.budget_kind);
  require(opt.recover > 0 && opt.recover <= 1,
          "--recover must be in (0, 1], got " + std::to_string(opt.recover));
  const auto cands = candidate_grid(opt.sinks, opt.windows);
  const int64_t L = model.config().num_layers, Hq = model.config().num_heads;
  const int64_t Hkv = model_kv_heads(model), group = Hq / Hkv;
  const int64_t T = int64_t(ids.size());
  const double bpe = kv_bytes_per_entry(model);
  auto t0 = std::chrono::steady_clock::now();
  MassObserver obs(L, Hq, cands);
  {
    c10::InferenceMode guard;
    at::Tensor t = at::tensor(ids, at::TensorOptions().dtype(at::kLong));
    ParallelAttentionOptions po;
    po.observer = &obs;
    po.query_block = opt.query_block;
    (void)model.forward_hidden(t, parallel_attention(model, po));
  }
  // candidates by cost (ties: list order)
  std::vector<size_t> order(cands.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return candidate_cost(cands[a], T, "context", bpe) < candidate_cost(cands[b], T, "context", bpe);
  });
  Allocation a;
  a.policy = Visibility(L, Hkv);
  nlohmann::json rec = nlohmann::json::array();
  for (int64_t l = 0; l < L; ++l) {
    nlohmann::json row = nlohmann::json::array();
    for (int64_t g = 0; g < Hkv; ++g) {
      size_t chosen = order.back();
      double got = 1;
      for (size_t c : order) {
        double worst = INFINITY;
        for (int64_t q = g * group; q < (g + 1) * group; ++q)
          worst = std::min(worst, obs.mass(l, q, c) / double(T));
        if (worst >= opt.recover) {
          chosen = c;
          got = worst;
          break;
        }
      }
      a.policy.at(l, g) = cands[chosen];
      row.push_back(got);
    }
    rec.push_back(row);
  }
  double total = 0;
  for (int64_t l = 0; l < L; ++l)
    for (int64_t g = 0; g < Hkv; ++g) total += candidate_cost(a.policy.at(l, g), T, opt.budget_kind, bpe);
  a.cost = opt.budget_kind == "context" ? total / double(L * Hkv) : total;
  a.measured_context = a.policy.measured_context(T);
  a.dense_nll = joint_nll(model, ids, Visibility::causal(L, Hkv), opt.query_block);
  a.nll = joint_nll(model, ids, a.policy, opt.query_block);
  a.report = {{"method", "fastgen"},
              {"recover", opt.recover},
              {"recovered_mass", rec},
              {"nll", a.nll},
              {"dense_nll", a.dense_nll},
              {"seconds", seconds_since(t0)},
              {"calibration_tokens", T}};
  if (opt.log)
    std::fprintf(opt.log, "fastgen    recover >= %.3f of each head's attention mass: NLL %.5f (dense %.5f), %.1f s\n",
                 opt.recover, a.nll, a.dense_nll, seconds_since(t0));
  return a;
}

Allocation allocate(const Model& model, const std::vector<int64_t>& ids, const AllocatorOptions& opt) {
  check_kind(opt.budget_kind);
  require(opt.method == "lagrangian" || opt.method == "fastgen",
          "--method must be lagrangian or fastgen, got '" + opt.method + "'");
  const auto cands = candidate_grid(opt.sinks, opt.windows);
  if (opt.method == "fastgen") return allocate_fastgen(model, ids, opt);
  require(opt.budget > 0, "--budget must be positive");
  require(opt.refine >= 0, "--refine must be >= 0");
  // budget check before the (long) profile
  const int64_t H = model.config().num_layers * model_kv_heads(model);
  const double bpe = kv_bytes_per_entry(model);
  double cheapest = INFINITY;
  for (const auto& c : cands)
    cheapest = std::min(cheapest, candidate_cost(c, int64_t(ids.size()), opt.budget_kind, bpe));
  const double need = opt.budget_kind == "context" ? cheapest : cheapest * double(H);
  require(need <= opt.budget * (1 + 1e-12),
          "budget " + std::to_string(opt.budget) + " is below the cheapest candidate (" +
              std::to_string(need) +
              (opt.budget_kind == "context" ? " keys per query" : " bytes") + " on this text)");
  AllocationProfile prof = profile_heads(model, ids, opt);
  return allocate_from_profile(model, ids, prof, opt);
}

}  // namespace headscope
