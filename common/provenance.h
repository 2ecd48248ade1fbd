// What produced a result file, and content identities for resuming.
//
// Model identity: SHA-256 over config.json's bytes and a cheap weights fingerprint (each
// *.safetensors file's name, size and JSON header; any other weight file's name, size and the
// SHA-256 of its first MiB), so the same model given by a relative path, an absolute path or a
// byte-identical copy has the same identity, and a model with other weights another one. A text
// is identified by the SHA-256 of its token ids (headaware/ablation_runner.h's ids_digest).
//
// Provenance block, added as "provenance" to every JSON result headscope writes:
//   {"headscope": {"version", "commit", "libtorch"}, "command", "date_utc",
//    "model": {"path" (as given), "identity", "architecture"},
//    "texts": [{"path", "sha256" (of the file), "tokens", "token_ids_sha256"}],
//    "bos_added", "device", "dtype", "threads", "options": {...}}
// Fields that do not apply to a command are absent.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace headscope {

struct ModelIdentity {
  std::string config_sha256;  // of config.json's bytes
  std::string weights_fingerprint;
  std::string id;             // SHA-256 of both: what resume compares
};

// Throws Error if `dir` has no config.json.
ModelIdentity model_identity(const std::string& dir);

struct TextProvenance {
  std::string path;              // as given
  std::string sha256;            // of the file's bytes (empty: not read whole)
  int64_t tokens = -1;           // -1: not recorded
  std::string token_ids_sha256;  // empty: not recorded
};

struct Provenance {
  std::string command;       // e.g. "eval", "ablate", "analyze"
  std::string model_path;    // as given (empty: no model)
  std::string architecture;  // empty: config.json's "architectures"[0]
  std::vector<TextProvenance> texts;
  int bos_added = -1;        // -1 unknown, 0/1
  std::string device, dtype;
  int threads = 0;           // 0: not recorded
  nlohmann::json options = nlohmann::json::object();

  // The block; computes the model identity when model_path is set (reads config.json and the
  // weights' headers). `date_utc` is the current time (ISO 8601, UTC).
  nlohmann::ordered_json to_json() const;
};

// "2026-12-02T15:36:23Z"
std::string utc_now_iso();

// TextProvenance for a text file: path, the file's SHA-256, token count and ids digest.
TextProvenance text_provenance(const std::string& path, const std::vector<int64_t>& ids);

}  // namespace headscope
