// Minimal safetensors writer for tests: builds valid (and deliberately broken) files.
#pragma once
#include <ATen/ATen.h>

#include <cstring>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace headscope::test {

inline std::string st_dtype_of(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat: return "F32";
    case at::kHalf: return "F16";
    case at::kBFloat16: return "BF16";
    case at::kLong: return "I64";
    default: return "F32";
  }
}

// Serialises tensors into safetensors bytes; `patch_header` may edit the header first.
inline std::string safetensors_bytes(const std::map<std::string, at::Tensor>& tensors,
                                     void (*patch_header)(nlohmann::json&) = nullptr) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [name, t0] : tensors) {
    at::Tensor t = t0.contiguous().cpu();
    size_t nb = t.numel() * t.element_size();
    header[name] = {{"dtype", st_dtype_of(t)},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {data.size(), data.size() + nb}}};
    data.append(static_cast<const char*>(t.data_ptr()), nb);
  }
  if (patch_header) patch_header(header);
  std::string h = header.dump();
  uint64_t n = h.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + h + data;
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace headscope::test
