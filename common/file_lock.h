// An exclusive, whole-run lock on an output: flock(2) on a sidecar file (PATH.lock for an output
// file, DIR/.headscope.lock for an output directory) that holds the owner's pid. A second
// process asking for the same lock fails at once with an error naming the holder's pid, or, with
// wait = true, blocks until the holder is done. The kernel drops the lock when the holder exits,
// however it exits (SIGKILL included), so a stale sidecar never blocks a later run. The sidecar
// is removed when the lock is released normally (it stays behind after a kill and is reused).
#pragma once
#include <string>

namespace headscope {

class FileLock {
 public:
  // Locks `lock_path` (created if missing). `what` names the protected output in messages.
  FileLock(const std::string& lock_path, const std::string& what, bool wait);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// The sidecar for an output file (symlinks followed: two links to one file share the lock).
std::string lock_path_for_file(const std::string& output_file);
// The sidecar inside an output directory.
std::string lock_path_for_dir(const std::string& output_dir);

}  // namespace headscope
