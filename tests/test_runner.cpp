// The test runner itself (tests/main.cpp): a run that selects no test case fails, and a fixture
// suite fails rather than skips when the shared directory exists without its fixtures.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "tests/cli_runner.h"

namespace fs = std::filesystem;

namespace {

// Runs this test binary with `args` (environment assignments may precede it).
headscope::test::Run run_self(const std::string& env, const std::string& args) {
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  return headscope::test::run_shell(env + " " + self + " " + args);
}

}  // namespace

TEST_SUITE("runner") {
  TEST_CASE("a suite that selects no test case fails") {
    auto r = run_self("", "--test-suite=no_such_suite_name");
    INFO(r.out);
    CHECK(r.code == 1);
    CHECK(r.out.find("no test case matches --test-suite=no_such_suite_name") != std::string::npos);
    auto ok = run_self("", "--test-suite=runner --test-case='*selects no test case*' --test-case-exclude='*'");
    CHECK(ok.code == 1);  // every case excluded: nothing ran
  }

  TEST_CASE("a fixture suite skips only when the shared directory is absent") {
    const fs::path empty = headscope::test::temp_path("runner", "empty_shared");
    fs::create_directories(empty);
    auto present = run_self("HEADSCOPE_SHARED=" + empty.string(), "--test-suite=fixture_eval");
    INFO(present.out);
    CHECK(present.code == 1);
    CHECK(present.out.find("exists but holds no fixtures/") != std::string::npos);
    auto absent = run_self("HEADSCOPE_SHARED=" + (empty / "missing").string(), "--test-suite=fixture_eval");
    INFO(absent.out);
    CHECK(absent.code == 77);
    CHECK(absent.out.find("SKIPPED") != std::string::npos);
    fs::remove_all(empty);
  }
}
