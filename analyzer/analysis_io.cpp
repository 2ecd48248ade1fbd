#include "analyzer/analysis_io.h"

#include <H5Cpp.h>

#include <algorithm>

#include "analyzer/classification_io.h"
#include "common/atomic_file.h"
#include "common/error.h"

namespace headscope {

using ojson = nlohmann::ordered_json;

std::string head_statistics_json(const AnalysisResult& r) {
  ojson root;
  root["model_info"] = {{"num_layers", r.layers},
                        {"num_heads", r.heads},
                        {"sink_size", r.options.stats.sink_size},
                        {"local_window", r.options.stats.local_window},
                        {"recent_ratio", r.options.stats.recent_ratio}};
  // Outside model_info, whose fields stay exactly the Python original's.
  root["beyond_trained_context"] = r.beyond_trained_context;
  ojson list = ojson::array();
  for (const auto& s : r.stats) {
    ojson h;
    h["layer_idx"] = s.layer;
    h["head_idx"] = s.head;
    h["mean_entropy"] = s.mean_entropy;
    h["std_entropy"] = s.std_entropy;
    h["max_attention_mean"] = s.max_attention_mean;
    h["position_preference"] = {
        {"sink", s.sink}, {"recent", s.recent}, {"local", s.local}, {"global", s.global}};
    h["sink_ratio"] = s.sink;
    h["uniformity_score"] = s.uniformity;
    h["relative_position_dist"] = s.relative_position_dist;
    list.push_back(std::move(h));
  }
  root["head_statistics"] = std::move(list);
  return root.dump(2) + "\n";
}

void write_head_statistics(const std::string& path, const AnalysisResult& r) {
  write_file_atomic(path, head_statistics_json(r));
}

std::vector<HeadStatistics> parse_head_statistics(const std::string& text, const std::string& what) {
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error("cannot parse " + what + ": " + e.what());
  }
  require(root.is_object() && root.contains("head_statistics") && root["head_statistics"].is_array(),
          what + ": missing 'head_statistics' list");
  std::vector<HeadStatistics> out;
  size_t i = 0;
  for (const auto& e : root["head_statistics"]) {
    const std::string where = what + ": head_statistics[" + std::to_string(i++) + "]";
    try {
      HeadStatistics s;
      s.layer = e.at("layer_idx").get<int64_t>();
      s.head = e.at("head_idx").get<int64_t>();
      s.mean_entropy = e.at("mean_entropy").get<double>();
      s.std_entropy = e.at("std_entropy").get<double>();
      s.max_attention_mean = e.at("max_attention_mean").get<double>();
      const auto& pp = e.at("position_preference");
      s.sink = pp.at("sink").get<double>();
      s.recent = pp.at("recent").get<double>();
      s.local = pp.at("local").get<double>();
      s.global = pp.at("global").get<double>();
      s.uniformity = e.at("uniformity_score").get<double>();
      s.relative_position_dist = e.at("relative_position_dist").get<std::vector<double>>();
      out.push_back(std::move(s));
    } catch (const nlohmann::json::exception& ex) {
      throw Error(where + ": " + ex.what());
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.layer != b.layer ? a.layer < b.layer : a.head < b.head;
  });
  return out;
}

int head_type_code(const std::string& type) {
  const auto& v = head_type_names();
  auto it = std::find(v.begin(), v.end(), type);
  return it == v.end() ? -1 : static_cast<int>(it - v.begin());
}

namespace {

void write_dataset(H5::H5File& f, const std::string& name, const std::vector<hsize_t>& dims,
                   const std::vector<double>& data) {
  H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
  H5::DataSet ds = f.createDataSet(name, H5::PredType::IEEE_F64LE, space);
  ds.write(data.data(), H5::PredType::NATIVE_DOUBLE);
}

void write_dataset(H5::H5File& f, const std::string& name, const std::vector<hsize_t>& dims,
                   const std::vector<int32_t>& data) {
  H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
  H5::DataSet ds = f.createDataSet(name, H5::PredType::STD_I32LE, space);
  ds.write(data.data(), H5::PredType::NATIVE_INT32);
}

void attr_str(H5::H5File& f, const std::string& name, const std::string& value) {
  H5::StrType st(H5::PredType::C_S1, H5T_VARIABLE);
  st.setCset(H5T_CSET_UTF8);
  H5::Attribute a = f.createAttribute(name, st, H5::DataSpace(H5S_SCALAR));
  a.write(st, value);
}

void attr_double(H5::H5File& f, const std::string& name, double v) {
  H5::Attribute a = f.createAttribute(name, H5::PredType::IEEE_F64LE, H5::DataSpace(H5S_SCALAR));
  a.write(H5::PredType::NATIVE_DOUBLE, &v);
}

void attr_int(H5::H5File& f, const std::string& name, int64_t v) {
  H5::Attribute a = f.createAttribute(name, H5::PredType::STD_I64LE, H5::DataSpace(H5S_SCALAR));
  a.write(H5::PredType::NATIVE_INT64, &v);
}

// Self-description of each dataset: attributes "description", "units" and "dimensions"
// (comma-separated dimension names, outermost first).
struct DatasetInfo {
  const char* name;
  const char* description;
  const char* units;
  const char* dimensions;
};

const DatasetInfo kDatasets[] = {
    {"mean_entropy", "attention entropy -sum_k A log(A + 1e-10) per query, mean over queries and chunks", "nats", "layer,head"},
    {"std_entropy", "standard deviation over queries of the attention entropy", "nats", "layer,head"},
    {"max_attention_mean", "largest attention weight per query, mean over queries", "probability", "layer,head"},
    {"sink_ratio", "attention mass on keys at positions < sink_size (attribute), mean over queries", "fraction of attention", "layer,head"},
    {"recent", "attention mass on the last recent_ratio (attribute) of the chunk's keys", "fraction of attention", "layer,head"},
    {"local", "attention mass on keys k with q - local_window <= k <= q (attribute local_window)", "fraction of attention", "layer,head"},
    {"global", "max(0, 1 - sink - local): attention mass neither on sinks nor local", "fraction of attention", "layer,head"},
    {"uniformity_score", "KL divergence of the attention from uniform over the visible keys, mean over queries with q >= 1", "nats", "layer,head"},
    {"confidence", "classifier confidence in the head's type", "score in [0, 1]", "layer,head"},
    {"stability", "share of chunks whose own classification agrees with the final type", "fraction of chunks", "layer,head"},
    {"head_type_code", "head type, an index into the file attribute head_type_names", "code", "layer,head"},
    {"recommended_window", "recommended KV window (-1 = full context, 0 = prunable)", "tokens", "layer,head"},
    {"relative_position_dist", "attention at relative distance d = q - k, i.e. A[q, q - d], mean over queries: "
     "bin d (0-based) is the weight on the key d positions before the query (bin 0 = the query "
     "itself); the bins cover d = 0 .. relative_positions - 1 (attribute), keys further back are in no bin",
     "fraction of attention", "layer,head,relative_distance"},
    {"chunk_entropy", "mean attention entropy of each analysed chunk", "nats", "chunk,layer,head"},
    {"chunk_type_code", "head type classified from each chunk alone (index into head_type_names)", "code", "chunk,layer,head"},
    {"kv_head", "the KV head each query head reads (GQA)", "index", "layer,head"},
    {"kv_mean_entropy", "mean entropy over the KV head's query heads", "nats", "layer,kv_head"},
    {"kv_sink_ratio", "sink share over the KV head's query heads", "fraction of attention", "layer,kv_head"},
    {"kv_local", "local share over the KV head's query heads", "fraction of attention", "layer,kv_head"},
    {"kv_uniformity_score", "uniformity score over the KV head's query heads", "nats", "layer,kv_head"},
    {"kv_confidence", "classifier confidence of the KV group's type", "score in [0, 1]", "layer,kv_head"},
    {"kv_type_agreement", "share of the KV head's query heads whose type is the group's type", "fraction of heads", "layer,kv_head"},
    {"kv_entropy_spread", "max - min mean entropy over the KV head's query heads", "nats", "layer,kv_head"},
    {"kv_sink_spread", "max - min sink share over the KV head's query heads", "fraction of attention", "layer,kv_head"},
    {"kv_type_code", "the KV group's type (index into head_type_names)", "code", "layer,kv_head"},
    {"kv_recommended_window", "recommended KV window of the group (-1 = full context, 0 = prunable)", "tokens", "layer,kv_head"},
    {"kv_distinct_types", "number of distinct types among the KV head's query heads", "count", "layer,kv_head"},
};

void annotate_datasets(H5::H5File& f) {
  H5::StrType st(H5::PredType::C_S1, H5T_VARIABLE);
  st.setCset(H5T_CSET_UTF8);
  for (const auto& d : kDatasets) {
    if (!f.nameExists(d.name)) continue;
    H5::DataSet ds = f.openDataSet(d.name);
    for (const auto& [k, v] : {std::pair<const char*, const char*>{"description", d.description},
                               {"units", d.units}, {"dimensions", d.dimensions}}) {
      H5::Attribute a = ds.createAttribute(k, st, H5::DataSpace(H5S_SCALAR));
      a.write(st, std::string(v));
    }
  }
}

}  // namespace

void write_head_stats_h5(const std::string& path, const AnalysisResult& r,
                         const AnalysisProvenance& prov) {
  write_file_atomic_with(path, [&](const std::string& tmp) { write_head_stats_h5_file(tmp, path, r, prov); });
}

void write_head_stats_h5_file(const std::string& tmp, const std::string& path,
                              const AnalysisResult& r, const AnalysisProvenance& prov) {
  const hsize_t L = static_cast<hsize_t>(r.layers), H = static_cast<hsize_t>(r.heads);
  const size_t n = r.stats.size();
  require(n == L * H && r.classes.size() == n, "internal: analysis result is incomplete");
  const hsize_t D = n ? static_cast<hsize_t>(r.stats[0].relative_position_dist.size()) : 0;
  const hsize_t C = static_cast<hsize_t>(r.chunks.size());
  {
    try {
      H5::Exception::dontPrint();
      H5::H5File f(tmp, H5F_ACC_TRUNC);
      auto scalar = [&](const std::string& name, auto get) {
        std::vector<double> v(n);
        for (size_t i = 0; i < n; ++i) v[i] = get(i);
        write_dataset(f, name, {L, H}, v);
      };
      scalar("mean_entropy", [&](size_t i) { return r.stats[i].mean_entropy; });
      scalar("std_entropy", [&](size_t i) { return r.stats[i].std_entropy; });
      scalar("max_attention_mean", [&](size_t i) { return r.stats[i].max_attention_mean; });
      scalar("sink_ratio", [&](size_t i) { return r.stats[i].sink; });
      scalar("recent", [&](size_t i) { return r.stats[i].recent; });
      scalar("local", [&](size_t i) { return r.stats[i].local; });
      scalar("global", [&](size_t i) { return r.stats[i].global; });
      scalar("uniformity_score", [&](size_t i) { return r.stats[i].uniformity; });
      scalar("confidence", [&](size_t i) { return r.classes[i].confidence; });
      scalar("stability", [&](size_t i) { return r.classes[i].stability; });
      std::vector<int32_t> codes(n), windows(n);
      for (size_t i = 0; i < n; ++i) {
        codes[i] = head_type_code(r.classes[i].type);
        windows[i] = static_cast<int32_t>(r.classes[i].recommended_window);
      }
      write_dataset(f, "head_type_code", {L, H}, codes);
      write_dataset(f, "recommended_window", {L, H}, windows);
      std::vector<double> rel(n * D);
      for (size_t i = 0; i < n; ++i)
        std::copy(r.stats[i].relative_position_dist.begin(),
                  r.stats[i].relative_position_dist.end(), rel.begin() + i * D);
      write_dataset(f, "relative_position_dist", {L, H, D}, rel);
      std::vector<double> ce(C * n);
      std::vector<int32_t> ct(C * n);
      for (size_t c = 0; c < C; ++c)
        for (size_t i = 0; i < n; ++i) {
          ce[c * n + i] = r.chunks[c].scalars(static_cast<Eigen::Index>(i), ChunkValues::Entropy);
          ct[c * n + i] = head_type_code(r.chunk_types[i][c]);
        }
      write_dataset(f, "chunk_entropy", {C, L, H}, ce);
      write_dataset(f, "chunk_type_code", {C, L, H}, ct);
      if (!r.groups.empty()) {
        // GQA: per-query-head KV head, and [layers, kv_heads] group aggregates (kv_groups.h).
        const hsize_t K = static_cast<hsize_t>(r.kv_heads);
        require(r.groups.size() == L * K, "internal: KV-group aggregates are incomplete");
        std::vector<int32_t> kvh(n);
        for (size_t i = 0; i < n; ++i) kvh[i] = static_cast<int32_t>(r.classes[i].kv_head);
        write_dataset(f, "kv_head", {L, H}, kvh);
        auto group = [&](const std::string& name, auto get) {
          std::vector<double> v(r.groups.size());
          for (size_t i = 0; i < v.size(); ++i) v[i] = get(r.groups[i]);
          write_dataset(f, name, {L, K}, v);
        };
        group("kv_mean_entropy", [](const KvGroup& g) { return g.stats.mean_entropy; });
        group("kv_sink_ratio", [](const KvGroup& g) { return g.stats.sink; });
        group("kv_local", [](const KvGroup& g) { return g.stats.local; });
        group("kv_uniformity_score", [](const KvGroup& g) { return g.stats.uniformity; });
        group("kv_confidence", [](const KvGroup& g) { return g.cls.confidence; });
        group("kv_type_agreement", [](const KvGroup& g) { return g.type_agreement; });
        group("kv_entropy_spread", [](const KvGroup& g) { return g.entropy_spread; });
        group("kv_sink_spread", [](const KvGroup& g) { return g.sink_spread; });
        std::vector<int32_t> gt(r.groups.size()), gw(r.groups.size()), gd(r.groups.size());
        for (size_t i = 0; i < gt.size(); ++i) {
          gt[i] = head_type_code(r.groups[i].cls.type);
          gw[i] = static_cast<int32_t>(r.groups[i].cls.recommended_window);
          gd[i] = static_cast<int32_t>(r.groups[i].distinct_types);
        }
        write_dataset(f, "kv_type_code", {L, K}, gt);
        write_dataset(f, "kv_recommended_window", {L, K}, gw);
        write_dataset(f, "kv_distinct_types", {L, K}, gd);
      }

      std::string names;
      for (const auto& t : head_type_names()) names += (names.empty() ? "" : ",") + t;
      attr_str(f, "head_type_names", names);
      attr_str(f, "model_path", prov.model_path);
      attr_str(f, "text_path", prov.text_path);
      attr_str(f, "text_sha256", prov.text_sha256);
      attr_str(f, "config_hash", prov.config_hash);
      attr_str(f, "headscope_version", HEADSCOPE_VERSION);
      attr_str(f, "context", to_string(r.options.context));
      attr_int(f, "tokens_analysed", r.tokens);
      attr_int(f, "beyond_trained_context", r.beyond_trained_context ? 1 : 0);
      if (!r.groups.empty()) attr_int(f, "num_kv_heads", r.kv_heads);
      attr_int(f, "chunk_size", r.options.chunk_size);
      attr_int(f, "chunks", static_cast<int64_t>(C));
      attr_int(f, "sink_size", r.options.stats.sink_size);
      attr_int(f, "local_window", r.options.stats.local_window);
      attr_double(f, "recent_ratio", r.options.stats.recent_ratio);
      const auto& t = r.options.thresholds;
      attr_double(f, "threshold_low_entropy", t.low_entropy);
      attr_double(f, "threshold_high_entropy", t.high_entropy);
      attr_double(f, "threshold_dead_uniformity", t.dead_uniformity);
      attr_double(f, "threshold_high_local", t.high_local);
      attr_double(f, "threshold_high_sink", t.high_sink);
      attr_int(f, "relative_positions", static_cast<int64_t>(D));
      if (!prov.json.empty()) attr_str(f, "provenance", prov.json);
      annotate_datasets(f);
      f.close();
    } catch (const H5::Exception& e) {
      throw Error("cannot write " + path + ": HDF5: " + e.getFuncName() + ": " + e.getDetailMsg());
    }
  }
}

}  // namespace headscope
