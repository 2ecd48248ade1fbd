#include "common/provenance.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "common/atomic_file.h"
#include "common/build_info.h"
#include "common/error.h"
#include "common/text.h"

namespace headscope {

namespace fs = std::filesystem;

namespace {

std::string read_prefix(const fs::path& p, size_t n) {
  std::ifstream in(p, std::ios::binary);
  require(in.good(), "cannot read " + p.string());
  std::string s(n, '\0');
  in.read(&s[0], static_cast<std::streamsize>(n));
  s.resize(static_cast<size_t>(in.gcount()));
  return s;
}

// name, size and the JSON header of a safetensors file (8-byte little-endian length + header).
std::string safetensors_fingerprint(const fs::path& p, uint64_t size) {
  std::string len = read_prefix(p, 8);
  uint64_t n = 0;
  for (size_t i = 0; i < len.size(); ++i) n |= uint64_t(static_cast<unsigned char>(len[i])) << (8 * i);
  std::string header;
  if (len.size() == 8 && n > 0 && n <= size - 8 && n < (uint64_t(1) << 30))
    header = read_prefix(p, size_t(8 + n));
  return p.filename().string() + "\n" + std::to_string(size) + "\n" + sha256_hex(header) + "\n";
}

}  // namespace

ModelIdentity model_identity(const std::string& dir) {
  const fs::path d(dir);
  const fs::path cfg = d / "config.json";
  require(fs::exists(cfg), "cannot read " + cfg.string() + ": no such file");
  ModelIdentity m;
  m.config_sha256 = sha256_hex(read_file(cfg.string()));
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(d, ec)) {
    if (!e.is_regular_file()) continue;
    const std::string ext = e.path().extension().string();
    if (ext == ".safetensors" || ext == ".bin" || ext == ".pt" || ext == ".pth" || ext == ".gguf")
      files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::string fp;
  for (const auto& f : files) {
    const uint64_t size = fs::file_size(f);
    if (f.extension() == ".safetensors")
      fp += safetensors_fingerprint(f, size);
    else
      fp += f.filename().string() + "\n" + std::to_string(size) + "\n" +
            sha256_hex(read_prefix(f, size_t(1) << 20)) + "\n";
  }
  m.weights_fingerprint = sha256_hex(fp);
  m.id = sha256_hex(m.config_sha256 + m.weights_fingerprint);
  return m;
}

std::string utc_now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

TextProvenance text_provenance(const std::string& path, const std::vector<int64_t>& ids) {
  TextProvenance t;
  t.path = path;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) t.sha256 = sha256_hex(read_file(path));
  t.tokens = static_cast<int64_t>(ids.size());
  std::string bytes;
  bytes.reserve(ids.size() * 8);
  for (int64_t v : ids)
    for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<char>((uint64_t(v) >> (8 * b)) & 0xff));
  t.token_ids_sha256 = sha256_hex(bytes);
  return t;
}

nlohmann::ordered_json Provenance::to_json() const {
  nlohmann::ordered_json j;
  j["headscope"] = {{"version", headscope_version()}, {"commit", git_commit()},
                    {"libtorch", torch_version()}};
  if (!command.empty()) j["command"] = command;
  j["date_utc"] = utc_now_iso();
  if (!model_path.empty()) {
    nlohmann::ordered_json m;
    m["path"] = model_path;
    m["identity"] = model_identity(model_path).id;
    std::string arch = architecture;
    if (arch.empty()) {
      // config.json's own name when the caller did not give the supported one
      try {
        const nlohmann::json c = read_json_file((fs::path(model_path) / "config.json").string());
        if (c.contains("architectures") && c["architectures"].is_array() && !c["architectures"].empty())
          arch = c["architectures"][0].get<std::string>();
      } catch (const std::exception&) {
      }
    }
    m["architecture"] = arch;
    j["model"] = m;
  }
  if (!texts.empty()) {
    nlohmann::ordered_json ts = nlohmann::ordered_json::array();
    for (const auto& t : texts) {
      nlohmann::ordered_json e;
      e["path"] = t.path;
      if (!t.sha256.empty()) e["sha256"] = t.sha256;
      if (t.tokens >= 0) e["tokens"] = t.tokens;
      if (!t.token_ids_sha256.empty()) e["token_ids_sha256"] = t.token_ids_sha256;
      ts.push_back(e);
    }
    j["texts"] = ts;
  }
  if (bos_added >= 0) j["bos_added"] = bos_added == 1;
  if (!device.empty()) j["device"] = device;
  if (!dtype.empty()) j["dtype"] = dtype;
  if (threads > 0) j["threads"] = threads;
  j["options"] = options;
  return j;
}

}  // namespace headscope
