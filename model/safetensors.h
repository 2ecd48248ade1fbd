// Memory-mapped safetensors reader: one file or a sharded set (model.safetensors.index.json).
// Validates the header against the file size; tensors are exposed as raw views, converted to
// ATen tensors by the caller.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace headscope {

enum class StDtype { F32, F16, BF16, I64, I32, U8, BOOL, F64 };

struct StTensorView {
  std::string name;
  StDtype dtype;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;
  std::string file;
};

// A file mapped read-only into memory. Holds no file descriptor (it is closed once the file is
// mapped, and on every error path); move-only, unmapped by the last owner.
class MappedFile {
 public:
  // Throws Error (one line) when `path` cannot be opened, is not a regular file or cannot be
  // mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return static_cast<const uint8_t*>(data_); }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void release() noexcept;
  std::string path_;
  void* data_ = nullptr;
  size_t size_ = 0;
};

// Parses and validates the safetensors bytes [data, data + size) (`file` names it in errors):
// header length within the file, JSON object without duplicate keys at any level, known dtypes,
// non-negative dimensions whose product does not overflow, byte sizes matching shape x dtype,
// ranges inside the data section and no two tensors sharing bytes. Returns the tensors (views
// into `data`, sorted by name). Throws Error (one line) otherwise.
// String entries of the header's "__metadata__" go to *metadata when given.
std::vector<StTensorView> parse_safetensors(const uint8_t* data, size_t size, const std::string& file,
                                             std::map<std::string, std::string>* metadata = nullptr);

class SafeTensors {
 public:
  // Opens `path`: a .safetensors file, or a model directory (model.safetensors or the index).
  static SafeTensors open(const std::string& path);
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const StTensorView& get(const std::string& name) const;  // throws Error if absent
  const std::map<std::string, StTensorView>& tensors() const { return tensors_; }
  // String entries of every file's "__metadata__" (e.g. transformers' tied-weight alias
  // "model.embed_tokens.weight": "lm_head.weight"); non-string values are skipped.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  void add_file(const std::string& file);
  std::vector<std::shared_ptr<MappedFile>> files_;
  std::map<std::string, StTensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

size_t st_dtype_size(StDtype d);
const char* st_dtype_name(StDtype d);

}  // namespace headscope
