// Policy files: a per-(layer, KV head) sink/window policy (model/visibility.h's HeadWindow:
// query i sees key j <= i iff j < sink or i - j < window; window -1 = full context, 0 = a dead
// head that sees only itself) as a small versioned JSON file naming the model it was made for.
// Torch-free: written by `ablate --export-policy`, the builders and `allocate`; read by
// `eval --policy` (real KV cache), the ablation `policy_file` builder and the benchmarks.
//
//   {"schema": "headscope.policy/1",
//    "name": "...",                                   free text (configuration, method, budget)
//    "model": {"architecture": "GPTNeoXForCausalLM", "layers": 6, "kv_heads": 8,
//              "query_heads": 8, "config_hash": "<sha256 of config.json, canonical JSON>"},
//    "policy_hash": "<sha256 of the canonical sinks/windows>",
//    "sinks":   [[4, 4, ...], ...],                   [layers][kv_heads]
//    "windows": [[-1, 64, ...], ...],                 [layers][kv_heads]
//    "measured_context": {"tokens": N, "keys_per_query": x},   optional, as written
//    "source": {...}}                                 optional provenance (free JSON)
// Policies are per KV head: for GPT-NeoX KV heads = query heads; for GQA models every query
// head of a group shares its KV head's cache entries, so a policy can only be realised on the
// cache per KV head.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "model/visibility.h"

namespace headscope {

inline constexpr const char* kPolicySchema = "headscope.policy/1";

// What a policy file says about the model it was made for.
struct PolicyModel {
  std::string architecture;
  int64_t layers = 0, kv_heads = 0, query_heads = 0;
  std::string config_hash;

  // Reads <model_dir>/config.json (architectures[0], num_hidden_layers, num_attention_heads,
  // num_key_value_heads defaulting to the attention heads). config_hash = sha256 of the
  // config parsed and re-serialised (sorted keys, no whitespace). Throws Error.
  static PolicyModel from_model_dir(const std::string& model_dir);
  nlohmann::json to_json() const;
  std::string describe() const;  // "GPTNeoXForCausalLM, 6 layers x 8 KV heads"
};

struct PolicyFile {
  std::string name;
  PolicyModel model;
  Visibility policy;  // layers x kv_heads
  nlohmann::json source = nlohmann::json::object();
  int64_t context_tokens = 0;  // measured_context below refers to this many queries (0: none)
  double measured_context = 0;

  // sha256 (hex) of "L,H;s,w;s,w;..." (layer-major): names the windows, not the model.
  static std::string hash(const Visibility& v);
  std::string policy_hash() const { return hash(policy); }

  nlohmann::ordered_json to_json() const;
  static PolicyFile from_json(const nlohmann::json& j, const std::string& what);
  static PolicyFile load(const std::string& path);  // throws Error (one line)
  void save(const std::string& path) const;          // atomic

  // Throws Error unless the policy has the model's layers and KV heads (and architecture,
  // when both name one). Returns a warning (empty if none) when the config hashes differ:
  // the same shape with other weights or settings is allowed but worth saying.
  std::string check_model(const PolicyModel& m, const std::string& what) const;
};

}  // namespace headscope
