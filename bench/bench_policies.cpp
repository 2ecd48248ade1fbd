// The honest comparison: allocated per-(layer, KV head) windows (headscope allocate's method)
// against StreamingLLM, recent-only and fix-size L2 keep_low at the same measured context /
// cache size, on evaluation documents disjoint from the calibration text.
//
//  1. profile every head's candidates once on the calibration text (mask engine), then
//     allocate one policy per budget (Lagrangian price + greedy fill + --refine true-NLL swaps);
//     FastGen's threshold rule at --recover values as a further baseline;
//  2. evaluation documents: --docs-per-book chunks of --doc-tokens tokens from each --eval book
//     (spread through the book); every policy is evaluated with the mask engine (= the real
//     cache per token to 1e-4, tested), fix_size_l2 keep_low token by token on the real cache;
//  3. for each budget: StreamingLLM = sink 4 + the window whose measured context on the
//     documents is closest to the allocated policy's (must be within 1%); recent-only = sink 0,
//     matched the same way; fix_size_l2 keep_low with fix_kv_size = the matched StreamingLLM's
//     cache size (sink + window - 1 entries), keep_ratio 0.2;
//  4. paired bootstrap over 256-prediction segments (resampled together for both methods):
//     95% interval of PPL(method) - PPL(StreamingLLM);
//  5. writes comparison.json, comparison.md, the policies, ppl_vs_context.png and
//     windows_heatmap.png (layer x KV head, chosen window, analyzer head types marked) to --out.
// Usage: bench_policies [--model DIR] [--calib FILE] [--eval F1,F2,...] [--calib-tokens N]
//   [--doc-tokens N] [--docs-per-book K] [--budgets 32,64,...] [--recover 0.9,0.95,...]
//   [--refine N] [--seed S] [--bootstrap B] [--classifications FILE] [--no-l2] [--consecutive]
//   [--l2-budgets 64,128] [--sinks 0,4] [--windows 0,8,...,full] [--profile-cache FILE]
//   [--threads T] --out DIR
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "analyzer/head_classification.h"
#include "common/atomic_file.h"
#include "common/cpu_runtime.h"
#include "common/error.h"
#include "common/text.h"
#include "compress/compressor.h"
#include "eval/decode_eval.h"
#include "eval/parallel_eval.h"
#include "formats/policy_file.h"
#include "headaware/allocator.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "viz/gnuplot.h"

using namespace headscope;

namespace {

struct Args {
  std::string model = std::string(HEADSCOPE_SOURCE_DIR) + "/../shared/models/neox-gutenberg-70m";
  std::string calib = std::string(HEADSCOPE_SOURCE_DIR) + "/../shared/data/pg19/test/10146.txt";
  std::vector<std::string> eval;
  int64_t calib_tokens = 1024, doc_tokens = 1024, docs_per_book = 2, refine = 8, bootstrap = 2000,
          segment = 256;
  std::vector<double> budgets = {32, 64, 128, 256};
  std::vector<double> recover = {0.9, 0.95, 0.99};
  std::vector<int64_t> sinks = {0, 4};
  std::vector<int64_t> windows = {0, 8, 16, 32, 64, 128, 256, 512, -1};
  std::string profile_cache;
  std::vector<double> l2_budgets;  // empty: every budget
  uint64_t seed = 0;
  std::string classifications, out;
  bool l2 = true;
  bool consecutive = false;  // documents = consecutive chunks from each book's start
  int threads = 0;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, ',')) if (!x.empty()) out.push_back(x);
  return out;
}

Args parse(int argc, char** argv) {
  Args a;
  const std::string g = std::string(HEADSCOPE_SOURCE_DIR) + "/../shared/data/gutenberg/";
  a.eval = {g + "10064.txt", g + "10357.txt", g + "10545.txt"};
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string {
      require(i + 1 < argc, "option " + k + " needs a value");
      return argv[++i];
    };
    if (k == "--model") a.model = val();
    else if (k == "--calib") a.calib = val();
    else if (k == "--eval") a.eval = split(val());
    else if (k == "--calib-tokens") a.calib_tokens = std::stoll(val());
    else if (k == "--doc-tokens") a.doc_tokens = std::stoll(val());
    else if (k == "--docs-per-book") a.docs_per_book = std::stoll(val());
    else if (k == "--budgets") {
      a.budgets.clear();
      for (auto& x : split(val())) a.budgets.push_back(std::stod(x));
    } else if (k == "--recover") {
      a.recover.clear();
      for (auto& x : split(val())) a.recover.push_back(std::stod(x));
    } else if (k == "--refine") a.refine = std::stoll(val());
    else if (k == "--seed") a.seed = std::stoull(val());
    else if (k == "--bootstrap") a.bootstrap = std::stoll(val());
    else if (k == "--classifications") a.classifications = val();
    else if (k == "--no-l2") a.l2 = false;
    else if (k == "--consecutive") a.consecutive = true;
    else if (k == "--l2-budgets") {
      for (auto& x : split(val())) a.l2_budgets.push_back(std::stod(x));
    }
    else if (k == "--threads") a.threads = std::stoi(val());
    else if (k == "--out") a.out = val();
    else if (k == "--profile-cache") a.profile_cache = val();
    else if (k == "--sinks") {
      a.sinks.clear();
      for (auto& x : split(val())) a.sinks.push_back(std::stoll(x));
    } else if (k == "--windows") {
      a.windows.clear();
      for (auto& x : split(val())) a.windows.push_back(x == "full" ? -1 : std::stoll(x));
    }
    else throw Error("unknown option " + k + " (see the header of bench/bench_policies.cpp)");
  }
  require(!a.out.empty(), "--out DIR is required");
  require(a.doc_tokens > a.segment && a.calib_tokens >= 16, "--doc-tokens must exceed 256");
  return a;
}

// What a cached profile must have been made for.
std::string pm_key(const std::string& model, const std::vector<int64_t>& calib,
                   const AllocatorOptions& o) {
  std::string k = PolicyModel::from_model_dir(model).config_hash + "|";
  for (int64_t v : calib) k += std::to_string(v) + ",";
  k += "|";
  for (auto& c : candidate_grid(o.sinks, o.windows))
    k += std::to_string(c.sink) + ":" + std::to_string(c.window) + ",";
  return sha256_hex(k);
}

double secs(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One method's per-document NLLs and its measured context on the documents.
struct MethodRun {
  std::string method, label;
  double budget = 0, context = 0;
  std::vector<std::vector<double>> nll;  // per document
  nlohmann::json params;
  double wall_s = 0;
  double ppl() const {
    double s = 0, n = 0;
    for (auto& d : nll) for (double v : d) { s += v; n += 1; }
    return std::exp(s / n);
  }
};

struct Segments {
  std::vector<double> sum;
  std::vector<double> count;
};
Segments segments(const MethodRun& r, int64_t seg) {
  Segments s;
  for (auto& d : r.nll)
    for (size_t i = 0; i < d.size(); i += size_t(seg)) {
      double t = 0, n = 0;
      for (size_t j = i; j < std::min(d.size(), i + size_t(seg)); ++j) { t += d[j]; n += 1; }
      s.sum.push_back(t);
      s.count.push_back(n);
    }
  return s;
}

// Paired bootstrap of PPL(a) - PPL(b) over segments: {point, lo, hi}.
std::array<double, 3> paired_bootstrap(const MethodRun& a, const MethodRun& b, int64_t seg,
                                       int64_t reps, uint64_t seed) {
  Segments sa = segments(a, seg), sb = segments(b, seg);
  const size_t n = sa.sum.size();
  auto ppl = [](const Segments& s, const std::vector<size_t>& idx) {
    double t = 0, c = 0;
    for (size_t i : idx) { t += s.sum[i]; c += s.count[i]; }
    return std::exp(t / c);
  };
  std::vector<size_t> all(n);
  for (size_t i = 0; i < n; ++i) all[i] = i;
  const double point = ppl(sa, all) - ppl(sb, all);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  std::vector<double> diffs;
  std::vector<size_t> idx(n);
  for (int64_t r = 0; r < reps; ++r) {
    for (auto& i : idx) i = pick(rng);
    diffs.push_back(ppl(sa, idx) - ppl(sb, idx));
  }
  std::sort(diffs.begin(), diffs.end());
  auto q = [&](double p) { return diffs[size_t(std::clamp(p * double(reps - 1), 0.0, double(reps - 1)))]; };
  return {point, q(0.025), q(0.975)};
}

// A uniform sink + window policy whose measured context over T queries is closest to
// `target`: window w on every head, w + 1 on the first k heads (layer-major), so that the
// context can be matched to a fraction of a key (integer windows alone move it by ~1 key).
struct Matched {
  Visibility v;
  int64_t window = 1, plus_one = 0;
};
Matched match_context(int64_t sink, double target, int64_t T, int64_t L, int64_t H) {
  auto ctx1 = [&](int64_t w) { return Visibility(1, 1, HeadWindow{sink, w}).measured_context(T); };
  int64_t w = 1;
  while (w < T && ctx1(w + 1) <= target) ++w;
  Matched m;
  m.window = w;
  double bd = INFINITY;
  const double a = ctx1(w), b = ctx1(std::min(w + 1, T));
  for (int64_t k = 0; k <= L * H; ++k) {
    const double c = (a * double(L * H - k) + b * double(k)) / double(L * H);
    if (std::abs(c - target) < bd) { bd = std::abs(c - target); m.plus_one = k; }
  }
  m.v = Visibility(L, H, HeadWindow{sink, w});
  for (int64_t i = 0; i < m.plus_one; ++i) m.v.at(i / H, i % H).window = w + 1;
  return m;
}

std::string wstr(const HeadWindow& w) {
  if (w.full()) return "full";
  if (w.dead()) return "dead";
  return std::to_string(w.sink) + "+" + std::to_string(w.window);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Args a = parse(argc, argv);
    configure_cpu_runtime(a.threads);
    c10::InferenceMode guard;
    auto t_all = std::chrono::steady_clock::now();
    Model model = Model::load(a.model);
    Tokenizer tok = Tokenizer::load(a.model);
    const int64_t L = model.config().num_layers, H = model_kv_heads(model);
    std::vector<int64_t> calib = tok.encode(load_text(a.calib, Newlines::LF));
    require(int64_t(calib.size()) >= a.calib_tokens, a.calib + " is too short");
    calib.resize(size_t(a.calib_tokens));
    std::vector<std::vector<int64_t>> docs;
    nlohmann::json doc_info = nlohmann::json::array();
    // Every document starts as a text does: with the tokenizer's special prefix (BOS for the
    // Llama tokenizers, nothing for GPT-NeoX), followed by a chunk of the book.
    const std::vector<int64_t>& prefix = tok.special_prefix();
    const int64_t chunk = a.doc_tokens - int64_t(prefix.size());
    for (const auto& book : a.eval) {
      std::vector<int64_t> ids = tok.encode(load_text(book, Newlines::LF), /*add_special=*/false);
      require(int64_t(ids.size()) >= chunk, book + " is shorter than --doc-tokens");
      for (int64_t k = 0; k < a.docs_per_book; ++k) {
        // spread through the book, past its front matter: at 20%, then evenly to 80%
        // (--consecutive: non-overlapping chunks from the start, for short texts)
        const double f = a.docs_per_book == 1 ? 0.2 : 0.2 + 0.6 * double(k) / double(a.docs_per_book - 1);
        const int64_t start = a.consecutive ? k * chunk : int64_t(f * double(ids.size() - size_t(chunk)));
        require(start + chunk <= int64_t(ids.size()),
                book + " holds fewer than --docs-per-book chunks of --doc-tokens");
        std::vector<int64_t> d(prefix.begin(), prefix.end());
        d.insert(d.end(), ids.begin() + start, ids.begin() + start + chunk);
        docs.push_back(std::move(d));
        doc_info.push_back({{"book", book}, {"start_token", start}, {"tokens", a.doc_tokens},
                            {"special_prefix", prefix}});
      }
    }
    const int64_t T = a.doc_tokens;
    std::printf("model %s (%lld layers x %lld KV heads), calibration %s (%lld tokens), %zu "
                "documents x %lld tokens\n",
                a.model.c_str(), (long long)L, (long long)H, a.calib.c_str(),
                (long long)a.calib_tokens, docs.size(), (long long)T);
    std::fflush(stdout);

    AllocatorOptions o;
    o.refine = a.refine;
    o.seed = a.seed;
    o.log = stdout;
    o.sinks = a.sinks;
    o.windows = a.windows;
    // the profile is the slow part: reuse a cached one made for the same model, text and grid
    const std::string key = pm_key(a.model, calib, o);
    AllocationProfile prof;
    bool cached = false;
    if (!a.profile_cache.empty() && std::filesystem::exists(a.profile_cache)) {
      nlohmann::json j = nlohmann::json::parse(read_file(a.profile_cache));
      if (j.value("key", std::string()) == key) {
        prof.candidates = candidate_grid(a.sinks, a.windows);
        prof.dnll = j["dnll"].get<std::vector<std::vector<double>>>();
        prof.dense_nll = j["dense_nll"].get<double>();
        prof.tokens = j["tokens"].get<int64_t>();
        prof.layers = L;
        prof.kv_heads = H;
        prof.seconds = j["seconds"].get<double>();
        prof.forwards = j["forwards"].get<int64_t>();
        cached = true;
        std::printf("profile: reused %s (made in %.1f s)\n", a.profile_cache.c_str(), prof.seconds);
      }
    }
    if (!cached) {
      prof = profile_heads(model, calib, o);
      if (!a.profile_cache.empty())
        write_file_atomic(a.profile_cache,
                          nlohmann::json{{"key", key}, {"dnll", prof.dnll}, {"dense_nll", prof.dense_nll},
                                         {"tokens", prof.tokens}, {"seconds", prof.seconds},
                                         {"forwards", prof.forwards}}.dump() + "\n");
    }
    std::printf("profile: %.1f s, %lld forwards (each from its head's layer on)\n", prof.seconds,
                (long long)prof.forwards);

    std::vector<MethodRun> runs;
    auto eval_vis = [&](const Visibility& v, MethodRun r) {
      auto t0 = std::chrono::steady_clock::now();
      for (auto& d : docs) {
        ParallelEvalOptions po;
        po.visibility = &v;
        r.nll.push_back(evaluate_parallel(model, d, po).nll);
      }
      r.context = v.measured_context(T);
      r.wall_s = secs(t0);
      std::printf("  %-12s budget %5g  context %8.2f  ppl %9.4f  (%s, %.1f s)\n", r.method.c_str(),
                  r.budget, r.context, r.ppl(), r.label.c_str(), r.wall_s);
      std::fflush(stdout);
      runs.push_back(r);
      return runs.size() - 1;
    };
    auto uniform_run = [&](const std::string& method, double budget, int64_t sink, double target) {
      Matched m = match_context(sink, target, T, L, H);
      MethodRun r;
      r.method = method;
      r.budget = budget;
      r.label = std::to_string(sink) + "+" + std::to_string(m.window) +
                (m.plus_one ? " (" + std::to_string(m.plus_one) + " heads +1)" : "");
      r.params = {{"sink", sink}, {"window", m.window}, {"heads_window_plus_one", m.plus_one}};
      return eval_vis(m.v, r);
    };
    {
      MethodRun r;
      r.method = "dense";
      r.label = "full";
      eval_vis(Visibility::causal(L, H), r);
    }
    nlohmann::json policies = nlohmann::json::array();
    std::vector<std::pair<double, Visibility>> chosen;
    std::map<double, std::vector<size_t>> by_budget;  // [0] the StreamingLLM reference, then the others
    const PolicyModel pm = PolicyModel::from_model_dir(a.model);
    auto save_policy = [&](const Visibility& v, const std::string& name, const nlohmann::json& src) {
      PolicyFile pf;
      pf.name = name;
      pf.model = pm;
      pf.policy = v;
      pf.context_tokens = T;
      pf.measured_context = v.measured_context(T);
      pf.source = src;
      pf.save(a.out + "/policy_" + name + ".json");
      return pf.policy_hash();
    };
    for (double B : a.budgets) {
      std::printf("budget %g\n", B);
      o.budget = B;
      auto t0 = std::chrono::steady_clock::now();
      Allocation al = allocate_from_profile(model, calib, prof, o);
      const double alloc_s = secs(t0);
      MethodRun r;
      r.method = "allocated";
      r.budget = B;
      r.label = "lagrangian+refine";
      r.params = al.report;
      r.params["allocate_seconds"] = alloc_s;
      r.params["policy_hash"] = save_policy(al.policy, "allocated_" + std::to_string(int(B)), al.report);
      const size_t ia = eval_vis(al.policy, r);
      chosen.push_back({B, al.policy});
      size_t inofull = size_t(-1);
      {
        // the same allocation without full-context heads: its cache stays bounded on texts of
        // any length (what the real-memory run uses)
        AllocationProfile nf = prof;
        std::vector<HeadWindow> keep;
        std::vector<size_t> cols;
        for (size_t c = 0; c < prof.candidates.size(); ++c)
          if (!prof.candidates[c].full()) { keep.push_back(prof.candidates[c]); cols.push_back(c); }
        nf.candidates = keep;
        for (size_t h = 0; h < nf.dnll.size(); ++h) {
          std::vector<double> row;
          for (size_t c : cols) row.push_back(prof.dnll[h][c]);
          nf.dnll[h] = row;
        }
        Allocation an = allocate_from_profile(model, calib, nf, o);
        MethodRun rn;
        rn.method = "allocated_nofull";
        rn.budget = B;
        rn.label = "no full heads";
        rn.params = an.report;
        rn.params["policy_hash"] =
            save_policy(an.policy, "allocated_nofull_" + std::to_string(int(B)), an.report);
        inofull = eval_vis(an.policy, rn);
      }
      const double ctx = runs[ia].context;
      const size_t is = uniform_run("streaming", B, 4, ctx);
      const size_t ir = uniform_run("recent", B, 0, ctx);
      const int64_t ws = runs[is].params["window"].get<int64_t>();
      for (size_t i : {is, ir}) {
        const double rel = std::abs(runs[i].context - ctx) / ctx;
        require(rel <= 0.01, runs[i].method + " cannot match the measured context within 1% (" +
                                 std::to_string(runs[i].context) + " vs " + std::to_string(ctx) + ")");
      }
      size_t il = size_t(-1);
      if (a.l2 && (a.l2_budgets.empty() ||
                   std::find(a.l2_budgets.begin(), a.l2_budgets.end(), B) != a.l2_budgets.end())) {
        const int64_t K = 4 + ws - 1;
        MethodRun l;
        l.method = "fix_size_l2";
        l.budget = B;
        l.label = "keep_low K=" + std::to_string(K) + " kr=0.2";
        l.params = {{"fix_kv_size", K}, {"keep_ratio", 0.2}, {"strategy", "keep_low"}};
        auto tl = std::chrono::steady_clock::now();
        double keys = 0, queries = 0;
        for (auto& d : docs) {
          auto c = make_fix_size_l2(K, 0.2, "keep_low", 0);
          DecodeOptions dopt;
          dopt.compressor = c.get();
          const int64_t N = int64_t(d.size());
          dopt.on_step = [&](const DecodeStep& s) {
            const int64_t heads = s.cache->layers() * s.cache->heads();
            if (s.step == 0) keys += double(heads);
            if (s.step + 1 <= N - 2) keys += double(s.cache->total_entries() + heads);
          };
          l.nll.push_back(evaluate_decode(model, d, dopt).nll);
          queries += double(N - 1) * double(L * H);
        }
        l.context = keys / queries;
        l.wall_s = secs(tl);
        std::printf("  %-12s budget %5g  context %8.2f  ppl %9.4f  (%s, %.1f s, real cache)\n",
                    l.method.c_str(), B, l.context, l.ppl(), l.label.c_str(), l.wall_s);
        std::fflush(stdout);
        runs.push_back(l);
        il = runs.size() - 1;
      }
      by_budget[B] = {is, ia, inofull, ir};
      if (il != size_t(-1)) by_budget[B].push_back(il);
    }
    std::vector<std::pair<double, size_t>> fastgen_runs;
    for (double rec : a.recover) {
      AllocatorOptions f = o;
      f.method = "fastgen";
      f.recover = rec;
      Allocation al = allocate_fastgen(model, calib, f);
      MethodRun r;
      r.method = "fastgen";
      r.label = "recover " + std::to_string(rec).substr(0, 4);
      r.params = al.report;
      r.params.erase("recovered_mass");
      r.params["policy_hash"] = save_policy(al.policy, "fastgen_" + std::to_string(rec).substr(0, 4), al.report);
      const size_t i = eval_vis(al.policy, r);
      const size_t is = uniform_run("streaming", -rec, 4, runs[i].context);
      fastgen_runs.push_back({rec, i});
      by_budget[-rec] = {is, i};
    }

    // ---- comparisons ----
    nlohmann::json out = {{"model", a.model}, {"calibration", a.calib},
                          {"calibration_tokens", a.calib_tokens}, {"documents", doc_info},
                          {"segment_predictions", a.segment}, {"bootstrap", a.bootstrap},
                          {"seed", a.seed}, {"refine", a.refine},
                          {"profile_seconds", prof.seconds}, {"profile_forwards", prof.forwards},
                          {"threads", at::get_num_threads()}};
    nlohmann::json rj = nlohmann::json::array();
    for (auto& r : runs)
      rj.push_back({{"method", r.method}, {"label", r.label}, {"budget", r.budget},
                    {"measured_context", r.context}, {"perplexity", r.ppl()}, {"params", r.params},
                    {"wall_s", r.wall_s}});
    out["runs"] = rj;
    std::ostringstream md;
    md << "| budget | method | setting | measured context | PPL | PPL - StreamingLLM [95% CI] | verdict |\n"
          "|---|---|---|---|---|---|---|\n";
    nlohmann::json cmp = nlohmann::json::array();
    for (auto& [B, idx] : by_budget) {
      const MethodRun& s = runs[idx[0]];
      const std::string bname = B < 0 ? "fastgen " + std::to_string(-B).substr(0, 4) : std::to_string(int(B));
      for (size_t k = 0; k < idx.size(); ++k) {
        const MethodRun& r = runs[idx[k]];
        char line[512];
        if (k == 0) {
          std::snprintf(line, sizeof line, "| %s | %s | %s | %.2f | %.4f | (reference) | |\n",
                        bname.c_str(), r.method.c_str(), r.label.c_str(), r.context, r.ppl());
        } else {
          auto bs = paired_bootstrap(r, s, a.segment, a.bootstrap, a.seed + uint64_t(k));
          const char* verdict = bs[2] < 0 ? "better" : bs[1] > 0 ? "worse" : "no significant difference";
          std::snprintf(line, sizeof line, "| %s | %s | %s | %.2f | %.4f | %+.4f [%+.4f, %+.4f] | %s |\n",
                        bname.c_str(), r.method.c_str(), r.label.c_str(), r.context, r.ppl(), bs[0],
                        bs[1], bs[2], verdict);
          cmp.push_back({{"budget", B}, {"method", r.method}, {"context", r.context},
                         {"ppl", r.ppl()}, {"streaming_ppl", s.ppl()},
                         {"streaming_context", s.context}, {"delta", bs[0]},
                         {"ci95", {bs[1], bs[2]}}, {"verdict", verdict}});
        }
        md << line;
      }
    }
    out["comparisons"] = cmp;
    nlohmann::json pj = nlohmann::json::array();
    for (auto& [B, v] : chosen) {
      nlohmann::json w = nlohmann::json::array();
      for (int64_t l = 0; l < L; ++l) {
        nlohmann::json row = nlohmann::json::array();
        for (int64_t h = 0; h < H; ++h) row.push_back(wstr(v.at(l, h)));
        w.push_back(row);
      }
      pj.push_back({{"budget", B}, {"windows", w}});
    }
    out["allocated_windows"] = pj;
    out["total_seconds"] = secs(t_all);
    write_file_atomic(a.out + "/comparison.json", out.dump(1) + "\n");
    write_file_atomic(a.out + "/comparison.md", md.str());
    std::printf("\n%s", md.str().c_str());

    // ---- figures ----
    {
      std::map<std::string, std::vector<std::string>> lines;
      for (auto& r : runs) {
        if (r.method == "dense") continue;
        if (r.method == "streaming" && r.budget < 0) continue;  // fastgen-matched points
        lines[r.method].push_back(viz::gp_num(r.context) + " " + viz::gp_num(r.ppl()));
      }
      std::string script;
      std::string plot = "plot ";
      int k = 0;
      for (auto& [m, pts] : lines) {
        std::sort(pts.begin(), pts.end(), [](const std::string& x, const std::string& y) {
          return std::stod(x) < std::stod(y);
        });
        script += viz::gp_datablock("D" + std::to_string(k), pts);
        plot += std::string(k ? ", " : "") + "$D" + std::to_string(k) +
                " using 1:2 with linespoints lw 2 pt " + std::to_string(5 + k) + " title " + viz::gp_quote(m);
        ++k;
      }
      plot += ", " + viz::gp_num(runs[0].ppl()) + " with lines dt 2 lc rgb '#777777' title " +
              viz::gp_quote("dense (" + viz::gp_num(runs[0].context) + " keys)");
      script += "set title " + viz::gp_quote("PPL vs measured context (" + std::to_string(docs.size()) +
                                             " held-out documents x " + std::to_string(T) + " tokens)") +
                "\nset xlabel 'mean keys per query (measured)'\nset ylabel 'perplexity'\n"
                "set logscale x 2\nset key top right\nset grid\n" + plot + "\n";
      viz::render_gnuplot(script, a.out + "/ppl_vs_context.png", 900, 600);
    }
    {
      ClassificationFile cls;
      const bool have_cls = !a.classifications.empty();
      if (have_cls) {
        cls = read_classifications(a.classifications);
        check_classifications_match(cls, L, H, a.classifications);
      }
      auto abbrev = [](const std::string& t) -> std::string {
        if (t == "gathering") return "G";
        if (t == "mixed") return "M";
        if (t == "sink_mixed") return "SM";
        if (t == "true_positional") return "TP";
        if (t == "sink_positional") return "SP";
        if (t == "positional") return "P";
        if (t == "dead") return "D";
        return "?";
      };
      std::string script = "set multiplot layout 1," + std::to_string(chosen.size()) + " title " +
                           viz::gp_quote(std::string("allocated windows (colour: log2 window; full = 11, dead = 0)") +
                                         (have_cls ? "; head types G gathering, M mixed, SM sink_mixed, TP/SP/P positional, D dead" : "")) +
                           "\nset cbrange [0:11]\nset palette defined (0 '#440154', 4 '#3b528b', 7 '#21918c', 9 '#5ec962', 11 '#fde725')\n"
                           "set xlabel 'KV head'\nset ylabel 'layer'\nunset key\nset tics out\n";
      int k = 0;
      for (auto& [B, v] : chosen) {
        std::vector<std::string> cells, labels;
        for (int64_t l = 0; l < L; ++l)
          for (int64_t h = 0; h < H; ++h) {
            const HeadWindow& w = v.at(l, h);
            const double val = w.full() ? 11.0 : w.dead() ? 0.0 : std::log2(double(w.window));
            cells.push_back(std::to_string(h) + " " + std::to_string(l) + " " + viz::gp_num(val));
            std::string lab = (w.full() ? "full" : w.dead() ? "dead" : std::to_string(w.window)) +
                              (w.sink > 0 && !w.full() && !w.dead() ? "s" : "");
            if (have_cls) lab += " " + abbrev(cls.at(l, h).type);
            labels.push_back(std::to_string(h) + " " + std::to_string(l) + " " + viz::gp_data_string(lab));
          }
        script += viz::gp_datablock("C" + std::to_string(k), cells) +
                  viz::gp_datablock("T" + std::to_string(k), labels) +
                  "set title " + viz::gp_quote("budget " + viz::gp_num(B)) + "\n"
                  "set xrange [-0.5:" + viz::gp_num(double(H) - 0.5) + "]\nset yrange [-0.5:" + viz::gp_num(double(L) - 0.5) + "] reverse\n"
                  "plot $C" + std::to_string(k) + " using 1:2:3 with image, $T" + std::to_string(k) +
                  " using 1:2:3 with labels font ',7' tc rgb 'white'\n";
        ++k;
      }
      script += "unset multiplot\n";
      viz::render_gnuplot(script, a.out + "/windows_heatmap.png", 420 * int(chosen.size()), 520);
    }
    std::printf("\nwrote %s/{comparison.json,comparison.md,ppl_vs_context.png,windows_heatmap.png,policy_*.json} (%.1f s)\n",
                a.out.c_str(), secs(t_all));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_policies: error: %s\n", e.what());
    return 1;
  }
}
