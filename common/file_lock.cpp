#include "common/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/atomic_file.h"
#include "common/error.h"

namespace headscope {
namespace fs = std::filesystem;

namespace {

std::string read_holder(int fd) {
  char buf[32] = {0};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "";
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return "";
  return s;
}

}  // namespace

FileLock::FileLock(const std::string& lock_path, const std::string& what, bool wait)
    : path_(lock_path) {
  fs::path parent = fs::path(lock_path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) throw Error("cannot create directory " + parent.string() + ": " + ec.message());
  }
  for (int attempt = 0;; ++attempt) {
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) throw Error("cannot open the lock file " + lock_path + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      if (e != EWOULDBLOCK) {
        ::close(fd);
        throw Error("cannot lock " + lock_path + ": " + std::strerror(e));
      }
      std::string holder = read_holder(fd);
      std::string who = holder.empty() ? "another process" : "another headscope process (pid " + holder + ")";
      if (!wait) {
        ::close(fd);
        throw Error(what + " is in use by " + who + " (lock " + lock_path +
                    "); wait for it with --wait or choose another output");
      }
      std::fprintf(stderr, "headscope: waiting for %s, in use by %s\n", what.c_str(), who.c_str());
      while (::flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
          int e2 = errno;
          ::close(fd);
          throw Error("cannot lock " + lock_path + ": " + std::strerror(e2));
        }
      }
    }
    // The holder before us may have removed the file after we opened it: then we locked an
    // orphan inode and must lock the file that is at the path now.
    struct stat a {}, b {};
    if (::fstat(fd, &a) == 0 && ::stat(lock_path.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino) {
      std::string pid = std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd, 0) == 0) {
        ssize_t w = ::pwrite(fd, pid.data(), pid.size(), 0);
        (void)w;
      }
      fd_ = fd;
      return;
    }
    ::close(fd);
    if (attempt > 100) throw Error("cannot lock " + lock_path + ": it keeps being replaced");
  }
}

FileLock::~FileLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still holding the lock: see the inode check above
  ::close(fd_);
}

std::string lock_path_for_file(const std::string& output_file) {
  OutputTarget t = resolve_output(output_file);
  return t.resolved + ".lock";
}

std::string lock_path_for_dir(const std::string& output_dir) {
  return (fs::path(output_dir) / ".headscope.lock").string();
}

}  // namespace headscope
