#include "common/atomic_file.h"

#include <nlohmann/json.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace headscope {
namespace fs = std::filesystem;

namespace {

std::string errno_text(int e) { return std::strerror(e); }

std::string parent_of(const std::string& p) {
  fs::path pp = fs::path(p).parent_path();
  return pp.empty() ? std::string(".") : pp.string();
}

std::string base_of(const std::string& p) { return fs::path(p).filename().string(); }

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Writes all of [data, data + n) to fd; returns 0 or the errno of the failure.
int write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

// Copies a file's bytes to fd; returns 0 or an errno.
int copy_file_to_fd(const std::string& src, int fd) {
  int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno;
  char buf[1 << 16];
  int err = 0;
  for (;;) {
    ssize_t r = ::read(in, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (r == 0) break;
    if ((err = write_all(fd, buf, static_cast<size_t>(r))) != 0) break;
  }
  ::close(in);
  return err;
}

void make_parent_dirs(const std::string& path) {
  fs::path dest(path);
  if (!dest.has_parent_path()) return;
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  if (ec) throw Error("cannot create directory " + dest.parent_path().string() + ": " + ec.message());
}

// A private (mode 0700) temporary directory under $TMPDIR, for outputs that are not renamed
// into place: nobody else can plant a file or link at the name the writer then opens.
std::string private_dir() {
  std::error_code ec;
  fs::path dir = fs::temp_directory_path(ec);
  if (ec) dir = "/tmp";
  std::string tmpl = (dir / "headscope-out-XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data()))
    throw Error("cannot create a temporary directory in " + dir.string() + ": " + errno_text(errno));
  return buf.data();
}

}  // namespace

bool is_stdout_path(const std::string& path) { return path == "-"; }

OutputTarget resolve_output(const std::string& path) {
  OutputTarget t;
  t.requested = path;
  if (path.empty()) throw Error("empty output path");
  if (is_stdout_path(path)) {
    t.kind = OutputTarget::Kind::Stdout;
    t.resolved = "-";
    return t;
  }
  std::string p = path;
  for (int hops = 0;; ++hops) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) break;  // a new file (its directory is created at write time)
      if (errno == ENOTDIR) throw Error("cannot write " + path + ": a parent is not a directory");
      throw Error("cannot write " + path + ": " + errno_text(errno));
    }
    if (S_ISLNK(st.st_mode)) {
      if (hops >= 40) throw Error("cannot write " + path + ": too many levels of symbolic links");
      std::vector<char> buf(PATH_MAX + 1);
      ssize_t n = ::readlink(p.c_str(), buf.data(), PATH_MAX);
      if (n < 0) throw Error("cannot write " + path + ": " + errno_text(errno));
      std::string link(buf.data(), static_cast<size_t>(n));
      p = (link.size() && link[0] == '/') ? link : (fs::path(parent_of(p)) / link).string();
      continue;
    }
    if (S_ISDIR(st.st_mode)) throw Error("cannot write " + path + ": is a directory");
    if (S_ISBLK(st.st_mode)) throw Error("cannot write " + path + ": is a block device (refused)");
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
      t.kind = OutputTarget::Kind::Direct;
      t.resolved = p;
      return t;
    }
    break;  // a regular file
  }
  t.kind = OutputTarget::Kind::Replace;
  t.resolved = p;
  return t;
}

int remove_stale_temps(const std::string& path) {
  OutputTarget t;
  try {
    t = resolve_output(path);
  } catch (const Error&) {
    return 0;
  }
  if (t.kind != OutputTarget::Kind::Replace) return 0;
  const std::string dir = parent_of(t.resolved);
  const std::string prefix = base_of(t.resolved) + ".tmp.";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  int removed = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string pid_text = name.substr(prefix.size());
    if (pid_text.find_first_not_of("0123456789") != std::string::npos || pid_text.size() > 9) continue;
    long pid = std::strtol(pid_text.c_str(), nullptr, 10);
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive (or not ours)
    std::string full = (fs::path(dir) / name).string();
    struct stat st {};
    if (::lstat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::unlink(full.c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

StagedOutput::StagedOutput(const std::string& path) : target_(resolve_output(path)) {
  if (target_.kind == OutputTarget::Kind::Replace) {
    make_parent_dirs(target_.resolved);
    remove_stale_temps(target_.resolved);
    temp_ = target_.resolved + ".tmp." + std::to_string(::getpid());
    ::unlink(temp_.c_str());  // our own leftover of an earlier failure
  } else {
    private_dir_ = private_dir();
    temp_ = private_dir_ + "/output";
  }
}

void StagedOutput::discard() {
  if (!temp_.empty()) ::unlink(temp_.c_str());
  if (!private_dir_.empty()) ::rmdir(private_dir_.c_str());
}

StagedOutput::StagedOutput(StagedOutput&& o) noexcept
    : target_(std::move(o.target_)),
      temp_(std::move(o.temp_)),
      private_dir_(std::move(o.private_dir_)),
      published_(o.published_) {
  o.temp_.clear();  // the moved-from object removes nothing
  o.private_dir_.clear();
}

StagedOutput::~StagedOutput() {
  if (!published_) discard();
}

void StagedOutput::write(const std::string& content) {
  const std::string& shown = target_.requested;
  int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) throw Error("cannot write " + shown + ": " + errno_text(errno));
  int err = write_all(fd, content.data(), content.size());
  if (!err && ::fsync(fd) != 0 && errno != EINVAL) err = errno;
  if (::close(fd) != 0 && !err) err = errno;
  if (err) {
    ::unlink(temp_.c_str());
    throw Error("cannot write " + shown + ": " + errno_text(err));
  }
}

void StagedOutput::write_with(const std::function<void(const std::string&)>& writer) {
  try {
    writer(temp_);
  } catch (...) {
    ::unlink(temp_.c_str());
    throw;
  }
  int fd = ::open(temp_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    ::unlink(temp_.c_str());
    throw Error("cannot write " + target_.requested + ": " + errno_text(e));
  }
  int err = (::fsync(fd) != 0 && errno != EINVAL) ? errno : 0;
  ::close(fd);
  if (err) {
    ::unlink(temp_.c_str());
    throw Error("cannot write " + target_.requested + ": " + errno_text(err));
  }
}

void StagedOutput::publish() {
  if (published_) return;
  const std::string& shown = target_.requested;
  if (target_.kind == OutputTarget::Kind::Replace) {
    struct stat old {};
    if (::stat(target_.resolved.c_str(), &old) == 0 && S_ISREG(old.st_mode))
      ::chmod(temp_.c_str(), old.st_mode & 07777);
    if (::rename(temp_.c_str(), target_.resolved.c_str()) != 0) {
      int e = errno;
      ::unlink(temp_.c_str());
      published_ = true;
      throw Error("cannot write " + shown + ": " + errno_text(e));
    }
    published_ = true;
    fsync_dir(parent_of(target_.resolved));
    return;
  }
  int fd = 1;
  if (target_.kind == OutputTarget::Kind::Stdout) {
    std::fflush(stdout);
  } else {
    fd = ::open(target_.resolved.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      discard();
      published_ = true;
      throw Error("cannot write " + shown + ": " + errno_text(e));
    }
  }
  int err = copy_file_to_fd(temp_, fd);
  if (fd != 1 && ::close(fd) != 0 && !err) err = errno;
  discard();
  published_ = true;
  if (err) throw Error("cannot write " + shown + ": " + errno_text(err));
}

void publish_all(std::vector<StagedOutput>& outputs) {
  for (auto& o : outputs) o.publish();
}

void write_file_atomic_with(const std::string& path,
                            const std::function<void(const std::string&)>& writer) {
  StagedOutput s(path);
  s.write_with(writer);
  s.publish();
}

void write_file_atomic(const std::string& path, const std::string& content) {
  OutputTarget t = resolve_output(path);
  if (t.kind == OutputTarget::Kind::Replace) {
    StagedOutput s(path);
    s.write(content);
    s.publish();
    return;
  }
  // stdout and devices: written directly, no temporary needed
  int fd = 1;
  if (t.kind == OutputTarget::Kind::Stdout) {
    std::fflush(stdout);
  } else {
    fd = ::open(t.resolved.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) throw Error("cannot write " + path + ": " + errno_text(errno));
  }
  int err = write_all(fd, content.data(), content.size());
  if (fd != 1 && ::close(fd) != 0 && !err) err = errno;
  if (err) throw Error("cannot write " + path + ": " + errno_text(err));
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

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + " is not valid JSON: " + std::string(e.what()));
  }
}

}  // namespace headscope
