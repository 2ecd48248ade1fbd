// Test helpers: where the shared fixtures and the bundled model live.
#pragma once
#include <cstdlib>
#include <filesystem>
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

}  // namespace headscope::test
