// Runs the headscope binary for end-to-end tests: exit code and combined stdout + stderr.
#pragma once
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <unistd.h>

#include <array>
#include <filesystem>
#include <cstdio>
#include <string>

#include "tests/support.h"

namespace headscope::test {

struct Run {
  int code;
  std::string out;  // stdout + stderr
};

// A shell command line (cwd, environment assignments allowed), stdout + stderr together.
inline Run run_shell(const std::string& command) {
  const std::string cmd = command + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// The headscope binary with `args`.
inline Run run(const std::string& args) { return run_shell(cli_binary() + " " + args); }

// Path `name` inside a per-process temporary directory headscope_<suite>_<pid> (created).
inline std::string temp_path(const std::string& suite, const std::string& name) {
  std::filesystem::path d =
      std::filesystem::temp_directory_path() / ("headscope_" + suite + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(d);
  return (d / name).string();
}

}  // namespace headscope::test
