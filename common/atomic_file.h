// The one way headscope writes an output file. Every writer (eval --json, analyze's three files,
// ablate --out, plot, HDF5) goes through it. What happens depends on what the path names:
//  - "-": standard output (the caller then prints its human report on stderr);
//  - a new path or a regular file: the content goes to PATH.tmp.PID in the same directory, is
//    fsync'd, then renamed over PATH (and the directory fsync'd), so a crash, a kill or a full
//    disk never leaves a half-written file and an old file is either kept or wholly replaced;
//    an existing file's permission bits are kept;
//  - a symbolic link (or a chain of them): followed; the final target is replaced as above in
//    the target's own directory, so the link stays a link and points at the new content;
//  - a character device, FIFO or socket: opened and written directly, never renamed over or
//    truncated (so /dev/null stays a device);
//  - a directory or a block device: an error.
// Before writing, PATH.tmp.<pid> files left by processes that no longer exist (a killed run) are
// removed. Failures throw Error("cannot write PATH: <reason>") and leave PATH untouched.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace headscope {

// What an output path resolves to.
struct OutputTarget {
  enum class Kind { Stdout, Replace, Direct };
  Kind kind = Kind::Replace;
  std::string requested;  // the path as given
  std::string resolved;   // symlinks followed (Replace, Direct); "-" for Stdout
};

// True for "-" (standard output).
bool is_stdout_path(const std::string& path);

// Resolves `path` as described above without writing anything; throws Error for a directory, a
// block device or a symlink loop.
OutputTarget resolve_output(const std::string& path);

// Removes PATH.tmp.<pid> files beside the resolved `path` whose pid is no process any more.
// Returns how many were removed.
int remove_stale_temps(const std::string& path);

// An output staged in a temporary file and published later (see publish_all). For a Replace
// target the temporary is PATH.tmp.PID beside the target; for stdout and devices it is a private
// file under $TMPDIR that is copied out at publish time. The temporary is removed unless published.
class StagedOutput {
 public:
  explicit StagedOutput(const std::string& path);
  ~StagedOutput();
  StagedOutput(StagedOutput&& o) noexcept;
  StagedOutput(const StagedOutput&) = delete;
  StagedOutput& operator=(const StagedOutput&) = delete;
  StagedOutput& operator=(StagedOutput&&) = delete;

  const OutputTarget& target() const { return target_; }
  // Where the content is to be written (a path that does not exist yet).
  const std::string& temp_path() const { return temp_; }
  // Writes `content` to temp_path() (fsync'd); throws Error on a short write (e.g. full disk).
  void write(const std::string& content);
  // Lets `writer` create temp_path() itself (e.g. an HDF5 file); then fsyncs it. If writer
  // throws, the temporary is removed.
  void write_with(const std::function<void(const std::string& tmp_path)>& writer);
  // Renames (Replace) or copies (Stdout, Direct) the staged content to the target.
  void publish();

 private:
  OutputTarget target_;
  std::string temp_;
  std::string private_dir_;  // stdout/device targets: the private directory holding temp_
  bool published_ = false;
  void discard();
};

// Stages every output, then publishes them together: if any fails to be written (full disk,
// writer error), none is published and the old files stay. (Once all are staged, each publish
// is a rename within its own directory; a failure there, e.g. EIO, can still leave a partial
// set, and is reported.)
void publish_all(std::vector<StagedOutput>& outputs);

// Writes `content` to `path` through the mechanism above (creating parent directories).
void write_file_atomic(const std::string& path, const std::string& content);

// Lets `writer` create a file at the temporary path it is given (e.g. an HDF5 file), then
// publishes it to `path`. If `writer` throws, the temporary file is removed and `path` is
// untouched.
void write_file_atomic_with(const std::string& path,
                            const std::function<void(const std::string& tmp_path)>& writer);

// Reads a whole file; throws Error("cannot read <path>: <reason>") on failure.
std::string read_file(const std::string& path);
// read_file + JSON parse; throws Error("<path> is not valid JSON: <parser message>").
nlohmann::json read_json_file(const std::string& path);

}  // namespace headscope
