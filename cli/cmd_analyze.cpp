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
#include "analyzer/document_analysis.h"
#include "cli/commands.h"
#include "cli/documents.h"
#include "cli/runtime.h"
#include "common/atomic_file.h"
#include "common/build_info.h"
#include "common/error.h"
#include "common/file_lock.h"
#include "common/provenance.h"
#include "common/progress.h"
#include "common/text.h"

namespace headscope::cli {

namespace {

struct AnalyzeArgs {
  RuntimeOptions rt;
  TextOptions text;
  DocumentOptions docs;
  std::string config;  // empty: the built-in configs/analysis.toml
  std::string out;
  int64_t chunk_size = 512, sink_size = 4, local_window = 8;
  std::string context = "chunks";
  bool wait = false;
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

// The Python original's schema plus a "provenance" block (common/provenance.h) at the end.
std::string with_provenance(const std::string& json_text, const nlohmann::ordered_json& prov) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(json_text);
  j["provenance"] = prov;
  return j.dump(2) + "\n";
}

nlohmann::ordered_json analysis_provenance(const Model& model, const RuntimeOptions& rt,
                                           const TextOptions& text, const AnalysisConfig& cfg,
                                           const std::vector<TokenizedDocument>& docs) {
  Provenance p = runtime_provenance("analyze", rt, model);
  if (docs.size() == 1 && !text.text.empty()) {
    p.texts.push_back(text_provenance(text.text, docs[0].ids));
  } else {
    for (const auto& d : docs) {
      TextProvenance t = text_provenance(d.name, d.ids);
      p.texts.push_back(t);
    }
  }
  p.bos_added = bos_added(rt.model, text);
  p.options = {{"config", cfg.source},
               {"config_hash", cfg.hash()},
               {"settings", cfg.canonical()},
               {"newlines", text.newlines}};
  return p.to_json();
}

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

// Several documents: each analysed alone, pooled over all chunks (analyzer/document_analysis.h);
// the same three files plus document_stability.json.
void analyze_documents(const Model& model, const std::vector<TokenizedDocument>& docs,
                       const AnalysisConfig& cfg, const RuntimeOptions& rt, const TextOptions& text,
                       const std::string& out) {
  const nlohmann::ordered_json provenance = analysis_provenance(model, rt, text, cfg, docs);
  std::printf("model      %s (%lld layers x %lld heads)\n", rt.model.c_str(),
              (long long)model.config().num_layers, (long long)model.config().num_heads);
  print_documents_header(docs, text);
  std::printf("device     %s\n", describe_device(rt).c_str());
  std::printf("settings   context %s, chunk %lld, sink %lld, local %lld, per document\n",
              to_string(cfg.options.context), (long long)cfg.options.chunk_size,
              (long long)cfg.options.stats.sink_size, (long long)cfg.options.stats.local_window);
  std::vector<AnalysisResult> per;
  std::vector<std::string> names;
  std::string shas;
  for (const auto& d : docs) {
    require(static_cast<int64_t>(d.ids.size()) >= cfg.options.min_chunk_tokens,
            "document " + d.name + " is too short to analyse: " + std::to_string(d.ids.size()) +
                " tokens, a chunk needs at least " + std::to_string(cfg.options.min_chunk_tokens));
    per.push_back(analyze_heads(model, d.ids, cfg.options));
    names.push_back(d.name);
    shas += sha256_hex(std::string(reinterpret_cast<const char*>(d.ids.data()), d.ids.size() * 8));
  }
  DocumentAnalysis da = pool_document_analyses(std::move(per), names);
  const AnalysisResult& r = da.pooled;
  namespace fs = std::filesystem;
  AnalysisProvenance prov;
  prov.model_path = rt.model;
  prov.text_path = std::to_string(docs.size()) + " documents: " + docs[0].name + " ...";
  prov.text_sha256 = sha256_hex(shas);  // of the documents' token ids (SHA-256 of SHA-256s)
  prov.config_hash = cfg.hash();
  prov.json = provenance.dump();
  write_file_atomic((fs::path(out) / "head_statistics.json").string(),
                    with_provenance(head_statistics_json(r), provenance));
  write_file_atomic((fs::path(out) / "head_classifications.json").string(),
                    with_provenance(classifications_json(r.classes), provenance));
  write_head_stats_h5((fs::path(out) / "head_stats.h5").string(), r, prov);
  nlohmann::json heads = nlohmann::json::array();
  for (size_t h = 0; h < r.classes.size(); ++h) {
    nlohmann::json t = nlohmann::json::array();
    for (const auto& dt : da.types) t.push_back(dt[h]);
    heads.push_back({{"layer", r.classes[h].layer}, {"head", r.classes[h].head},
                     {"type", r.classes[h].type}, {"chunk_stability", r.classes[h].stability},
                     {"document_stability", da.document_stability[h]}, {"document_types", t}});
  }
  write_file_atomic((fs::path(out) / "document_stability.json").string(),
                    nlohmann::json({{"documents", names}, {"heads", heads},
                                    {"provenance", nlohmann::json::parse(provenance.dump())}}).dump(1) + "\n");
  std::printf("analysed   %lld tokens in %zu chunks of %zu documents, %.3f s\n", (long long)r.tokens,
              r.chunks.size(), docs.size(), r.seconds);
  print_summary(r);
  // Per-document stability: documents whose own classification agrees with the pooled type.
  const int64_t D = static_cast<int64_t>(docs.size());
  std::map<int64_t, int64_t> agree;
  double mean = 0;
  for (double s : da.document_stability) agree[std::llround(s * D)]++, mean += s;
  const double n = double(da.document_stability.size());
  std::printf("\nper-document stability (documents agreeing with the pooled type, of %lld; mean %.3f)\n",
              (long long)D, mean / n);
  for (int64_t k = D; k >= 0; --k)
    if (agree.count(k))
      std::printf("  %3lld/%-3lld (%.2f) %6lld heads %6.1f%%\n", (long long)k, (long long)D,
                  double(k) / double(D), (long long)agree[k], 100.0 * agree[k] / n);
  std::printf("\nwrote      %s/{head_statistics.json, head_classifications.json, head_stats.h5, "
              "document_stability.json}\n", out.c_str());
}

}  // namespace

void register_analyze(CLI::App& app) {
  auto a = std::make_shared<AnalyzeArgs>();
  CLI::App* sub = app.add_subcommand("analyze", "classify attention heads from their statistics on a text");
  sub->footer(kHelp);
  add_runtime_options(sub, a->rt);
  add_text_options(sub, a->text, 2048, /*multiple=*/true);
  add_document_options(sub, a->docs);
  sub->add_option("--chunk-size", a->chunk_size, "tokens per analysis chunk")->capture_default_str();
  sub->add_option("--sink-size", a->sink_size, "keys at positions < N are sink tokens")
      ->capture_default_str();
  sub->add_option("--local-window", a->local_window, "local keys: 0 <= q - k <= N")
      ->capture_default_str();
  sub->add_option("--config", a->config,
                  "analysis TOML (stats defaults and thresholds); default: configs/analysis.toml "
                  "as built into this binary");
  sub->add_option("--context", a->context, "chunks (independent chunks, the original) or full "
                                            "(full left context)")
      ->check(CLI::IsMember({"chunks", "full"}))
      ->capture_default_str();
  sub->add_option("--out", a->out, "output directory")->required();
  sub->add_flag("--wait", a->wait,
                "if another headscope is writing to --out, wait for it (default: fail at once)");

  sub->callback([a, sub]() {
    // Settings: --config FILE or the built-in configs/analysis.toml, then explicit flags.
    AnalysisConfig cfg = a->config.empty()
                             ? parse_analysis_config(embedded_config("analysis.toml"),
                                                     "built-in configs/analysis.toml")
                             : load_analysis_config(a->config);
    if (sub->count("--max-tokens")) cfg.max_tokens = a->text.max_tokens;
    if (sub->count("--chunk-size")) cfg.options.chunk_size = a->chunk_size;
    if (sub->count("--sink-size")) cfg.options.stats.sink_size = a->sink_size;
    if (sub->count("--local-window")) cfg.options.stats.local_window = a->local_window;
    if (sub->count("--context")) cfg.options.context = parse_context_mode(a->context);
    cfg.validate();
    a->text.max_tokens = cfg.max_tokens;
    require(!std::filesystem::exists(a->out) || std::filesystem::is_directory(a->out),
            "--out " + a->out + " exists and is not a directory");
    usage_require(!is_stdout_path(a->out), "--out is a directory for three files; '-' (stdout) is not possible");
    // One analyze per output directory at a time, for the whole run.
    FileLock lock(lock_path_for_dir(a->out), "output directory " + a->out, a->wait);

    Model model = load_model(a->rt);
    std::vector<TokenizedDocument> docs = load_document_tokens(a->rt.model, a->text, a->docs);
    if (multi_document(a->text, a->docs, docs)) {
      analyze_documents(model, docs, cfg, a->rt, a->text, a->out);
      return;
    }
    int64_t total_tokens = docs[0].total_tokens;
    std::vector<int64_t> ids = docs[0].ids;
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
      if (!bar) bar.emplace("analyze", static_cast<long>(total), "chunk-layers");
      bar->update(static_cast<long>(done));
    });
    if (bar) bar->finish();
    {
      const int64_t n = static_cast<int64_t>(ids.size());
      const int64_t longest = cfg.options.context == ContextMode::Full
                                  ? n
                                  : std::min<int64_t>(n, cfg.options.chunk_size);
      const int64_t trained = model.config().max_position_embeddings;
      r.beyond_trained_context = longest > trained;
      if (r.beyond_trained_context)
        std::fprintf(stderr,
                     "headscope: warning: forward passes of %lld tokens exceed the model's trained "
                     "context (max_position_embeddings = %lld): the statistics describe "
                     "extrapolation\n",
                     (long long)longest, (long long)trained);
    }

    namespace fs = std::filesystem;
    const std::string out = a->out;
    AnalysisProvenance prov;
    prov.model_path = a->rt.model;
    prov.text_path = a->text.text;
    prov.text_sha256 = text_sha;
    prov.config_hash = cfg.hash();
    // All three files or none: each is staged (written and fsync'd beside its destination),
    // and only when all three are complete are they renamed into place.
    std::vector<StagedOutput> staged;
    staged.reserve(3);
    staged.emplace_back((fs::path(out) / "head_statistics.json").string());
    staged.emplace_back((fs::path(out) / "head_classifications.json").string());
    staged.emplace_back((fs::path(out) / "head_stats.h5").string());
    const nlohmann::ordered_json provenance = analysis_provenance(model, a->rt, a->text, cfg, docs);
    prov.json = provenance.dump();
    staged[0].write(with_provenance(head_statistics_json(r), provenance));
    staged[1].write(with_provenance(classifications_json(r.classes, r.groups), provenance));
    const std::string h5_path = staged[2].target().requested;
    staged[2].write_with([&](const std::string& tmp) { write_head_stats_h5_file(tmp, h5_path, r, prov); });
    publish_all(staged);

    std::printf("analysed   %lld tokens in %zu chunks, %.3f s (%.1f tokens/s)\n",
                (long long)r.tokens, r.chunks.size(), r.seconds, double(r.tokens) / r.seconds);
    print_summary(r);
    std::printf("\nwrote      %s/{head_statistics.json, head_classifications.json, head_stats.h5}\n",
                out.c_str());
  });
}

}  // namespace headscope::cli
