// Atomic result files: content goes to a temporary file in the same directory, is flushed and
// fsync'd, then renamed over the destination, so a crash never leaves a half-written file.
#pragma once
#include <functional>
#include <string>

namespace headscope {

// Writes `content` to `path` atomically (creating parent directories).
void write_file_atomic(const std::string& path, const std::string& content);

// Lets `writer` create a file at the temporary path it is given (e.g. an HDF5 file), then
// renames it over `path`. If `writer` throws, the temporary file is removed and `path` is
// untouched.
void write_file_atomic_with(const std::string& path,
                            const std::function<void(const std::string& tmp_path)>& writer);

// Reads a whole file; throws Error("cannot read <path>: <reason>") on failure.
std::string read_file(const std::string& path);

}  // namespace headscope
