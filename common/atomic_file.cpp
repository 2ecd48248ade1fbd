#include "common/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace headscope {
namespace fs = std::filesystem;

static std::string temp_path_for(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid());
}

static void fsync_path(const std::string& p) {
  int fd = ::open(p.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

void write_file_atomic_with(const std::string& path,
                            const std::function<void(const std::string&)>& writer) {
  fs::path dest(path);
  if (dest.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(dest.parent_path(), ec);
    require(!ec, "cannot create directory " + dest.parent_path().string() + ": " + ec.message());
  }
  const std::string tmp = temp_path_for(path);
  try {
    writer(tmp);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  fsync_path(tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string reason = std::strerror(errno);
    std::remove(tmp.c_str());
    throw Error("cannot write " + path + ": " + reason);
  }
}

void write_file_atomic(const std::string& path, const std::string& content) {
  write_file_atomic_with(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    require(out.good(), "cannot write " + tmp + ": " + std::strerror(errno));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    require(out.good(), "cannot write " + tmp + ": " + std::strerror(errno));
  });
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  require(fs::exists(path, ec), "cannot read " + path + ": no such file");
  require(!fs::is_directory(path, ec), "cannot read " + path + ": is a directory");
  std::ifstream in(path, std::ios::binary);
  require(in.good(), "cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace headscope
