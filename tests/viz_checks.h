#include "tests/support.h"
// Helpers for the figure tests: temporary directories and PNG/SVG validity checks.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace headscope::test {

// A fresh directory under the system temp dir, removed with everything in it at scope exit
// (kept when $HEADSCOPE_KEEP_TEST_FILES is set, to look at the figures).
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("headscope-viz-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    headscope::test::remove_tree(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    if (std::getenv("HEADSCOPE_KEEP_TEST_FILES")) return;
    std::error_code ec;
    headscope::test::remove_tree(path);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(file(name), std::ios::binary) << content;
    return file(name);
  }
};

inline std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct PngInfo {
  bool valid = false;
  uint32_t width = 0, height = 0;
  size_t bytes = 0;
};

// Checks the PNG signature, that the first chunk is a 13-byte IHDR, and that the file ends with
// an IEND chunk; returns the size from IHDR.
inline PngInfo png_info(const std::string& p) {
  PngInfo r;
  const std::string s = slurp(p);
  r.bytes = s.size();
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (s.size() < 8 + 25 + 12) return r;
  for (int i = 0; i < 8; ++i)
    if (static_cast<unsigned char>(s[i]) != sig[i]) return r;
  auto be32 = [&](size_t o) {
    return (uint32_t(uint8_t(s[o])) << 24) | (uint32_t(uint8_t(s[o + 1])) << 16) |
           (uint32_t(uint8_t(s[o + 2])) << 8) | uint32_t(uint8_t(s[o + 3]));
  };
  if (be32(8) != 13 || s.compare(12, 4, "IHDR") != 0) return r;
  if (s.compare(s.size() - 8, 4, "IEND") != 0) return r;
  r.width = be32(16);
  r.height = be32(20);
  r.valid = r.width > 0 && r.height > 0;
  return r;
}

// An SVG document: starts with "<?xml" or "<svg", has an <svg element and ends with </svg>.
inline bool svg_valid(const std::string& s) {
  size_t first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return false;
  if (s.compare(first, 5, "<?xml") != 0 && s.compare(first, 4, "<svg") != 0) return false;
  size_t end = s.find_last_not_of(" \t\r\n");
  return s.find("<svg") != std::string::npos && end >= 5 && s.compare(end - 5, 6, "</svg>") == 0;
}

}  // namespace headscope::test
