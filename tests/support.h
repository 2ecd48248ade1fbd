// Test helpers: where the shared fixtures and the bundled model live.
#pragma once
#include <ftw.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace headscope::test {

// ../shared beside the checkout (or $HEADSCOPE_SHARED). Suites named fixture_* only run when
// it exists; tests/main.cpp reports them skipped (exit 77) otherwise.
inline std::string shared_dir() {
  if (const char* e = std::getenv("HEADSCOPE_SHARED")) return e;
  return HEADSCOPE_TEST_SHARED;
}
inline bool have_shared() { return std::filesystem::exists(shared_dir() + "/fixtures"); }
inline std::string shared(const std::string& rel) { return shared_dir() + "/" + rel; }
inline std::string repo(const std::string& rel) { return std::string(HEADSCOPE_SOURCE_DIR) + "/" + rel; }
// The bundled default model (always present in the repo).
inline std::string bundled_model() { return repo("models/neox-gutenberg-14m"); }
// The headscope binary, for end-to-end CLI tests (set by ctest).
inline std::string cli_binary() {
  if (const char* e = std::getenv("HEADSCOPE_BIN")) return e;
  return std::string(HEADSCOPE_SOURCE_DIR) + "/build/headscope";
}

// Removes a file or directory tree (missing is fine). Tests use this instead of
// std::filesystem::remove_all: PyTorch's wheel libtorch.so exports its own, broken copy of that
// symbol, which the dynamic linker binds our versioned reference to (it crashed every test
// binary built against PyTorch 2.11 on the GPU machine).
inline void remove_tree(const std::filesystem::path& p) {
  ::nftw(p.c_str(), [](const char* f, const struct stat*, int, struct FTW*) { return ::remove(f); }, 16,
         FTW_DEPTH | FTW_PHYS);
}

// Writes `content` to `path` as is (binary), replacing the file.
inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

}  // namespace headscope::test
