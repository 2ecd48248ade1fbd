#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "common/atomic_file.h"
#include "common/error.h"

namespace headscope {
namespace fs = std::filesystem;
using nlohmann::json;

MappedFile::MappedFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  require(fd >= 0, "cannot open " + path + ": " + std::strerror(errno));
  // The descriptor is closed on every path out of here, error or not: the mapping stays valid
  // without it.
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error("cannot stat " + path + ": " + std::strerror(errno));
  require(S_ISREG(st.st_mode), path + " is not a regular file");
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) throw Error("cannot mmap " + path + ": " + std::strerror(errno));
    data_ = p;
  }
}

MappedFile::~MappedFile() { release(); }

MappedFile::MappedFile(MappedFile&& o) noexcept
    : path_(std::move(o.path_)), data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    release();
    path_ = std::move(o.path_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

void MappedFile::release() noexcept {
  if (data_) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

size_t st_dtype_size(StDtype d) {
  switch (d) {
    case StDtype::F32: case StDtype::I32: return 4;
    case StDtype::F16: case StDtype::BF16: return 2;
    case StDtype::I64: case StDtype::F64: return 8;
    case StDtype::U8: case StDtype::BOOL: return 1;
  }
  return 0;
}

const char* st_dtype_name(StDtype d) {
  switch (d) {
    case StDtype::F32: return "F32";
    case StDtype::F16: return "F16";
    case StDtype::BF16: return "BF16";
    case StDtype::I64: return "I64";
    case StDtype::I32: return "I32";
    case StDtype::U8: return "U8";
    case StDtype::BOOL: return "BOOL";
    case StDtype::F64: return "F64";
  }
  return "?";
}

static StDtype parse_dtype(const std::string& s, const std::string& what) {
  static const std::map<std::string, StDtype> m = {
      {"F32", StDtype::F32}, {"F16", StDtype::F16}, {"BF16", StDtype::BF16},
      {"I64", StDtype::I64}, {"I32", StDtype::I32}, {"U8", StDtype::U8},
      {"BOOL", StDtype::BOOL}, {"F64", StDtype::F64}};
  auto it = m.find(s);
  require(it != m.end(), what + ": unsupported dtype '" + s + "'");
  return it->second;
}

std::vector<StTensorView> parse_safetensors(const uint8_t* data, size_t size, const std::string& file,
                                             std::map<std::string, std::string>* metadata) {
  require(size >= 8, file + ": truncated safetensors file (no header length)");
  uint64_t hlen = 0;
  std::memcpy(&hlen, data, 8);
  require(hlen <= size - 8, file + ": header length " + std::to_string(hlen) +
                                " exceeds file size " + std::to_string(size));
  // nlohmann::json keeps the last of duplicate keys silently: a callback sees every key first.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto cb = [&](int, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (ev == json::parse_event_t::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (ev == json::parse_event_t::key && !open_objects.empty() && duplicate.empty()) {
      const std::string k = parsed.is_string() ? parsed.get<std::string>() : parsed.dump();
      if (!open_objects.back().insert(k).second) duplicate = k;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(data + 8, data + 8 + hlen, cb);
  } catch (const json::exception&) {
    throw Error(file + ": corrupt safetensors header (not valid JSON)");
  }
  require(duplicate.empty(), file + ": corrupt safetensors header (key '" + duplicate + "' appears twice)");
  require(header.is_object(), file + ": corrupt safetensors header (not an object)");
  const uint8_t* base = data + 8 + hlen;
  const size_t data_size = size - 8 - hlen;
  std::vector<StTensorView> out;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // [begin, end) of non-empty tensors
  std::vector<std::string> range_names;
  for (auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (info.is_object() && metadata)
        for (auto& [k, v] : info.items())
          if (v.is_string()) (*metadata)[k] = v.get<std::string>();
      continue;
    }
    const std::string what = file + ": tensor '" + name + "'";
    require(info.is_object() && info.contains("dtype") && info.contains("shape") &&
                info.contains("data_offsets"),
            what + " has an incomplete header entry");
    StTensorView v;
    v.name = name;
    v.file = file;
    try {
      v.dtype = parse_dtype(info["dtype"].get<std::string>(), what);
      v.shape = info["shape"].get<std::vector<int64_t>>();
      auto off = info["data_offsets"].get<std::vector<uint64_t>>();
      require(off.size() == 2 && off[0] <= off[1], what + " has invalid data_offsets");
      require(off[1] <= data_size, what + " data extends past the end of the file (truncated?)");
      size_t numel = 1;
      for (int64_t d : v.shape) {
        require(d >= 0, what + " has a negative dimension");
        const auto ud = static_cast<size_t>(d);
        require(ud == 0 || numel <= SIZE_MAX / ud, what + " has a shape whose size overflows");
        numel *= ud;
      }
      const size_t esz = st_dtype_size(v.dtype);
      require(numel <= SIZE_MAX / esz, what + " has a shape whose size overflows");
      v.nbytes = off[1] - off[0];
      require(v.nbytes == numel * esz,
              what + " byte size " + std::to_string(v.nbytes) + " does not match its shape and dtype");
      v.data = base + off[0];
      if (v.nbytes > 0) {
        ranges.emplace_back(off[0], off[1]);
        range_names.push_back(name);
      }
    } catch (const nlohmann::json::exception&) {
      throw Error(what + " has a malformed header entry");
    }
    out.push_back(std::move(v));
  }
  // No two tensors may share bytes (a writer bug or a crafted file: one write would alias another).
  std::vector<size_t> order(ranges.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ranges[a] < ranges[b]; });
  for (size_t i = 1; i < order.size(); ++i) {
    const auto& prev = ranges[order[i - 1]];
    const auto& cur = ranges[order[i]];
    require(cur.first >= prev.second,
            file + ": tensors '" + range_names[order[i - 1]] + "' and '" + range_names[order[i]] +
                "' overlap in the file (bytes " + std::to_string(cur.first) + ".." +
                std::to_string(std::min(prev.second, cur.second)) + ")");
  }
  return out;
}

void SafeTensors::add_file(const std::string& file) {
  auto mf = std::make_shared<MappedFile>(file);
  for (auto& v : parse_safetensors(mf->data(), mf->size(), file, &metadata_)) {
    require(!tensors_.count(v.name), file + ": tensor '" + v.name + "' appears twice");
    std::string name = v.name;
    tensors_.emplace(std::move(name), std::move(v));
  }
  files_.push_back(std::move(mf));
}

SafeTensors SafeTensors::open(const std::string& path) {
  SafeTensors st;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const std::string single = path + "/model.safetensors";
    const std::string index = path + "/model.safetensors.index.json";
    if (fs::exists(single)) {
      st.add_file(single);
    } else if (fs::exists(index)) {
      json j;
      try {
        j = json::parse(read_file(index));
      } catch (const json::exception&) {
        throw Error(index + " is not valid JSON");
      }
      require(j.contains("weight_map") && j["weight_map"].is_object(),
              index + ": missing 'weight_map'");
      std::set<std::string> shards;
      for (auto& [k, v] : j["weight_map"].items()) {
        require(v.is_string(), index + ": weight_map entry for '" + k + "' is not a file name");
        shards.insert(v.get<std::string>());
      }
      for (const auto& s : shards) st.add_file(path + "/" + s);
    } else {
      throw Error(path + ": no model.safetensors or model.safetensors.index.json");
    }
  } else {
    require(fs::exists(path, ec), "cannot open " + path + ": no such file");
    st.add_file(path);
  }
  return st;
}

const StTensorView& SafeTensors::get(const std::string& name) const {
  auto it = tensors_.find(name);
  require(it != tensors_.end(), "missing tensor '" + name + "'");
  return it->second;
}

}  // namespace headscope
