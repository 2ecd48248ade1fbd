// headscope analyze: per-head attention statistics, head classification and stability.
// Writes head_statistics.json and head_classifications.json (the Python original's schemas,
// + per-head stability) and head_stats.h5 into --out, atomically, then prints a summary.
#include <ATen/ATen.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include "analyzer/analysis_config.h"
#include "analyzer/analysis_io.h"
#include "analyzer/analyzer.h"
#include "analyzer/classification_io.h"
#include "cli/commands.h"
#include "cli/runtime.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "common/progress.h"
#include "common/text.h"

namespace headscope::cli {

namespace {

struct AnalyzeArgs {
  RuntimeOptions rt;
  TextOptions text;
  std::string config = "configs/analysis.toml";
  std::string out;
  int64_t chunk_size = 512, sink_size = 4, local_window = 8;
  std::string context = "chunks";
};

const char* kHelp =
    "per-head attention statistics, head types (dead, sink/true positional, mixed, sink_mixed, "
    "gathering), compression recommendations and stability.\n"
    "Context modes: 'chunks' (default, the Python original): the tokens are cut into chunks of "
    "--chunk-size and each chunk is a fresh forward pass at positions 0..T-1, so sinks are each "
    "chunk's first tokens and no query sees text before its chunk. 'full': one forward pass over "
    "all tokens (queries in blocks of --chunk-size), so every query sees its full left context at "
    "its true position; sinks are the text's first tokens; numbers then differ from the "
    "original's.\nValues from --config are defaults; flags given on the command line override "
    "them.";

void print_summary(const AnalysisResult& r) {
  const auto n = static_cast<double>(r.classes.size());
  std::map<std::string, int64_t> types, strategies;
  for (const auto& c : r.classes) {
    types[c.type]++;
    strategies[c.strategy]++;
  }
  std::printf("\n%-18s %6s %7s\n", "head type", "heads", "share");
  for (const auto& t : head_type_names())
    if (types.count(t))
      std::printf("%-18s %6lld %6.1f%%\n", t.c_str(), (long long)types[t], 100.0 * types[t] / n);
  std::printf("\n%-18s %6s %7s\n", "strategy", "heads", "share");
  for (const auto& s : strategy_names())
    if (strategies.count(s))
      std::printf("%-18s %6lld %6.1f%%\n", s.c_str(), (long long)strategies[s],
                  100.0 * strategies[s] / n);

  double sink = 0, stab = 0;
  for (const auto& s : r.stats) sink += s.sink;
  for (const auto& c : r.classes) stab += c.stability;
  std::printf("\nmean sink ratio    %.4f\n", sink / n);

  std::printf("\n%-6s %12s %10s %10s %10s  %s\n", "layer", "mean_entropy", "sink", "local",
              "stability", "types");
  for (int64_t l = 0; l < r.layers; ++l) {
    double e = 0, s = 0, loc = 0, st = 0;
    std::map<std::string, int> lt;
    for (int64_t h = 0; h < r.heads; ++h) {
      const auto& hs = r.stats[static_cast<size_t>(l * r.heads + h)];
      const auto& hc = r.classes[static_cast<size_t>(l * r.heads + h)];
      e += hs.mean_entropy;
      s += hs.sink;
      loc += hs.local;
      st += hc.stability;
      lt[hc.type]++;
    }
    std::string ts;
    for (const auto& [t, k] : lt) ts += (ts.empty() ? "" : " ") + t + ":" + std::to_string(k);
    const double H = double(r.heads);
    std::printf("%-6lld %12.4f %10.4f %10.4f %10.3f  %s\n", (long long)l, e / H, s / H, loc / H,
                st / H, ts.c_str());
  }

  // Stability: share of chunks whose own classification agrees with the final type.
  const int64_t C = static_cast<int64_t>(r.chunks.size());
  std::map<int64_t, int64_t> agree;  // number of agreeing chunks -> heads
  for (const auto& c : r.classes) agree[static_cast<int64_t>(std::llround(c.stability * C))]++;
  std::printf("\nstability (chunks agreeing with the final type, of %lld; mean %.3f)\n",
              (long long)C, stab / n);
  for (int64_t k = C; k >= 0; --k) {
    int64_t cnt = agree.count(k) ? agree[k] : 0;
    if (cnt == 0) continue;
    std::printf("  %3lld/%-3lld (%.2f) %6lld heads %6.1f%%\n", (long long)k, (long long)C,
                C ? double(k) / double(C) : 0.0, (long long)cnt, 100.0 * cnt / n);
  }
}

}  // namespace

void register_analyze(CLI::App& app) {
  auto a = std::make_shared<AnalyzeArgs>();
  CLI::App* sub = app.add_subcommand("analyze", "classify attention heads from their statistics on a text");
  sub->footer(kHelp);
  add_runtime_options(sub, a->rt);
  add_text_options(sub, a->text, 2048);
  sub->add_option("--chunk-size", a->chunk_size, "tokens per analysis chunk")->capture_default_str();
  sub->add_option("--sink-size", a->sink_size, "keys at positions < N are sink tokens")
      ->capture_default_str();
  sub->add_option("--local-window", a->local_window, "local keys: 0 <= q - k <= N")
      ->capture_default_str();
  sub->add_option("--config", a->config, "analysis TOML (stats defaults and thresholds)")
      ->capture_default_str();
  sub->add_option("--context", a->context, "chunks (independent chunks, the original) or full "
                                            "(full left context)")
      ->check(CLI::IsMember({"chunks", "full"}))
      ->capture_default_str();
  sub->add_option("--out", a->out, "output directory")->required();

  sub->callback([a, sub]() {
    // Settings: config file (the shipped default may be absent outside the repository), then
    // explicit flags.
    AnalysisConfig cfg;
    const bool config_given = sub->count("--config") > 0;
    if (config_given || std::filesystem::exists(a->config)) cfg = load_analysis_config(a->config);
    if (sub->count("--max-tokens")) cfg.max_tokens = a->text.max_tokens;
    if (sub->count("--chunk-size")) cfg.options.chunk_size = a->chunk_size;
    if (sub->count("--sink-size")) cfg.options.stats.sink_size = a->sink_size;
    if (sub->count("--local-window")) cfg.options.stats.local_window = a->local_window;
    if (sub->count("--context")) cfg.options.context = parse_context_mode(a->context);
    cfg.validate();
    a->text.max_tokens = cfg.max_tokens;
    require(!std::filesystem::exists(a->out) || std::filesystem::is_directory(a->out),
            "--out " + a->out + " exists and is not a directory");

    Model model = load_model(a->rt);
    int64_t total_tokens = 0;
    std::vector<int64_t> ids = load_tokens(a->rt.model, a->text, &total_tokens);
    const std::string text_sha = sha256_hex(read_file(a->text.text));

    std::printf("model      %s (%lld layers x %lld heads)\n", a->rt.model.c_str(),
                (long long)model.config().num_layers, (long long)model.config().num_heads);
    std::printf("text       %s (%zu of %lld tokens, newlines=%s)\n", a->text.text.c_str(),
                ids.size(), (long long)total_tokens, a->text.newlines.c_str());
    std::printf("device     %s\n", describe_device(a->rt).c_str());
    std::printf("settings   context %s, chunk %lld, sink %lld, local %lld, recent %.3g, config %s\n",
                to_string(cfg.options.context), (long long)cfg.options.chunk_size,
                (long long)cfg.options.stats.sink_size, (long long)cfg.options.stats.local_window,
                cfg.options.stats.recent_ratio, cfg.source.c_str());
    std::fflush(stdout);

    std::optional<Progress> bar;
    AnalysisResult r = analyze_heads(model, ids, cfg.options, [&](int64_t done, int64_t total) {
      if (!bar) bar.emplace("analyze", static_cast<long>(total));
      bar->update(static_cast<long>(done));
    });
    if (bar) bar->finish();

    namespace fs = std::filesystem;
    const std::string out = a->out;
    AnalysisProvenance prov;
    prov.model_path = a->rt.model;
    prov.text_path = a->text.text;
    prov.text_sha256 = text_sha;
    prov.config_hash = cfg.hash();
    write_head_statistics((fs::path(out) / "head_statistics.json").string(), r);
    write_classifications((fs::path(out) / "head_classifications.json").string(), r.classes, r.groups);
    write_head_stats_h5((fs::path(out) / "head_stats.h5").string(), r, prov);

    std::printf("analysed   %lld tokens in %zu chunks, %.3f s (%.1f tokens/s)\n",
                (long long)r.tokens, r.chunks.size(), r.seconds, double(r.tokens) / r.seconds);
    print_summary(r);
    std::printf("\nwrote      %s/{head_statistics.json, head_classifications.json, head_stats.h5}\n",
                out.c_str());
  });
}

}  // namespace headscope::cli
