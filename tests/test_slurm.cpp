// The sweep on a real Slurm cluster started on localhost by tests/slurm_local.sh (root, Debian's
// slurm-wlm and munge): a two-task array job plus the dependent merge job must give exactly the
// merged results of a single local run. Skipped (exit 77, with the reason) where Slurm cannot
// start: not root, packages missing, daemons failing.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>

#include "tests/cli_runner.h"
#include "tests/support.h"

TEST_SUITE("slurm") {
  TEST_CASE("two-task array + merge on a local Slurm equals a local run") {
    const std::string cmd = "timeout 300 bash " + headscope::test::repo("tests/slurm_local.sh") + " " +
                            headscope::test::cli_binary() + " " + headscope::test::bundled_model() + " " +
                            headscope::test::repo("data/pg19-10146.txt") + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int st = pclose(p);
    const int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (code == 77) {
      std::printf("%s", out.c_str());
      std::fflush(stdout);
      std::_Exit(77);  // ctest: skipped
    }
    INFO(out);
    CHECK(code == 0);
    CHECK(out.find("OK: Slurm array") != std::string::npos);
  }
}
