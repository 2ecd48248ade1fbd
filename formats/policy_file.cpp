#include "formats/policy_file.h"

#include <cmath>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/text.h"

namespace headscope {

namespace {

int64_t get_int(const nlohmann::json& j, const char* key, const std::string& what) {
  auto it = j.find(key);
  require(it != j.end() && it->is_number_integer(),
          what + ": field '" + key + "' is missing or not an integer");
  return it->get<int64_t>();
}

}  // namespace

PolicyModel PolicyModel::from_model_dir(const std::string& model_dir) {
  const std::string path = model_dir + "/config.json";
  const nlohmann::json j = read_json_file(path);
  require(j.is_object(), path + " is not a JSON object");
  PolicyModel m;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string())
    m.architecture = j["architectures"][0].get<std::string>();
  m.layers = get_int(j, "num_hidden_layers", path);
  m.query_heads = get_int(j, "num_attention_heads", path);
  m.kv_heads = j.contains("num_key_value_heads") && j["num_key_value_heads"].is_number_integer()
                   ? j["num_key_value_heads"].get<int64_t>()
                   : m.query_heads;
  require(m.layers > 0 && m.kv_heads > 0 && m.query_heads > 0,
          path + ": layers and heads must be positive");
  m.config_hash = sha256_hex(j.dump());
  return m;
}

nlohmann::json PolicyModel::to_json() const {
  return {{"architecture", architecture},
          {"layers", layers},
          {"kv_heads", kv_heads},
          {"query_heads", query_heads},
          {"config_hash", config_hash}};
}

std::string PolicyModel::describe() const {
  return (architecture.empty() ? std::string("unknown architecture") : architecture) + ", " +
         std::to_string(layers) + " layers x " + std::to_string(kv_heads) + " KV heads";
}

std::string PolicyFile::hash(const Visibility& v) {
  std::string s = std::to_string(v.layers()) + "," + std::to_string(v.heads());
  for (int64_t l = 0; l < v.layers(); ++l)
    for (int64_t h = 0; h < v.heads(); ++h) {
      const HeadWindow& w = v.at(l, h);
      s += ";" + std::to_string(w.sink) + "," + std::to_string(w.window);
    }
  return sha256_hex(s);
}

nlohmann::ordered_json PolicyFile::to_json() const {
  nlohmann::ordered_json j;
  j["schema"] = kPolicySchema;
  j["name"] = name;
  j["model"] = model.to_json();
  j["policy_hash"] = policy_hash();
  auto sinks = nlohmann::ordered_json::array(), windows = nlohmann::ordered_json::array();
  for (int64_t l = 0; l < policy.layers(); ++l) {
    auto s = nlohmann::ordered_json::array(), w = nlohmann::ordered_json::array();
    for (int64_t h = 0; h < policy.heads(); ++h) {
      s.push_back(policy.at(l, h).sink);
      w.push_back(policy.at(l, h).window);
    }
    sinks.push_back(s);
    windows.push_back(w);
  }
  j["sinks"] = sinks;
  j["windows"] = windows;
  if (context_tokens > 0)
    j["measured_context"] = {{"tokens", context_tokens}, {"keys_per_query", measured_context}};
  j["source"] = source;
  return j;
}

PolicyFile PolicyFile::from_json(const nlohmann::json& j, const std::string& what) {
  require(j.is_object() && j.value("schema", std::string()) == kPolicySchema,
          what + " is not a headscope policy file (schema " + kPolicySchema + ")");
  PolicyFile f;
  f.name = j.value("name", std::string());
  require(j.contains("model") && j["model"].is_object(), what + ": field 'model' is missing");
  const auto& m = j["model"];
  f.model.architecture = m.value("architecture", std::string());
  f.model.layers = get_int(m, "layers", what + " model");
  f.model.kv_heads = get_int(m, "kv_heads", what + " model");
  f.model.query_heads = m.contains("query_heads") ? get_int(m, "query_heads", what + " model")
                                                  : f.model.kv_heads;
  f.model.config_hash = m.value("config_hash", std::string());
  require(f.model.layers > 0 && f.model.kv_heads > 0,
          what + ": model layers and kv_heads must be positive");
  const int64_t L = f.model.layers, H = f.model.kv_heads;
  auto grid = [&](const char* key) {
    require(j.contains(key) && j[key].is_array() && int64_t(j[key].size()) == L,
            what + ": '" + key + "' must be an array of " + std::to_string(L) + " layers");
    for (int64_t l = 0; l < L; ++l) {
      const auto& row = j[key][size_t(l)];
      require(row.is_array() && int64_t(row.size()) == H,
              what + ": '" + key + "' layer " + std::to_string(l) + " must list " +
                  std::to_string(H) + " KV heads");
      for (const auto& v : row)
        require(v.is_number_integer(), what + ": '" + key + "' layer " + std::to_string(l) +
                                           " holds a non-integer");
    }
    return j[key];
  };
  const auto& sinks = grid("sinks");
  const auto& windows = grid("windows");
  f.policy = Visibility(L, H);
  for (int64_t l = 0; l < L; ++l)
    for (int64_t h = 0; h < H; ++h) {
      HeadWindow w;
      w.sink = sinks[size_t(l)][size_t(h)].get<int64_t>();
      w.window = windows[size_t(l)][size_t(h)].get<int64_t>();
      require(w.sink >= 0 && w.window >= -1,
              what + ": layer " + std::to_string(l) + " KV head " + std::to_string(h) +
                  ": sink must be >= 0 and window >= -1 (got " + std::to_string(w.sink) + ", " +
                  std::to_string(w.window) + ")");
      f.policy.at(l, h) = w;
    }
  if (j.contains("policy_hash")) {
    require(j["policy_hash"].is_string() && j["policy_hash"].get<std::string>() == f.policy_hash(),
            what + ": policy_hash does not match its sinks/windows (edited by hand? remove "
                   "the field or fix it)");
  }
  if (j.contains("measured_context") && j["measured_context"].is_object()) {
    f.context_tokens = j["measured_context"].value("tokens", int64_t(0));
    f.measured_context = j["measured_context"].value("keys_per_query", 0.0);
  }
  if (j.contains("source")) f.source = j["source"];
  return f;
}

PolicyFile PolicyFile::load(const std::string& path) {
  const nlohmann::json j = read_json_file(path);
  return from_json(j, path);
}

void PolicyFile::save(const std::string& path) const {
  write_file_atomic(path, to_json().dump(1) + "\n");
}

std::string PolicyFile::check_model(const PolicyModel& m, const std::string& what) const {
  require(model.layers == m.layers && model.kv_heads == m.kv_heads,
          what + " was made for " + model.describe() + ", not " + m.describe());
  require(model.architecture.empty() || m.architecture.empty() ||
              model.architecture == m.architecture,
          what + " was made for " + model.describe() + ", not " + m.describe());
  if (!model.config_hash.empty() && !m.config_hash.empty() && model.config_hash != m.config_hash)
    return what + " was made for a model of the same shape with another config.json (hash " +
           model.config_hash.substr(0, 12) + " vs " + m.config_hash.substr(0, 12) + ")";
  return "";
}

}  // namespace headscope
