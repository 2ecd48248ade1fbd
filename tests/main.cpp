// doctest runner. `--test-suite=fixture_*` suites need ../shared: when it is absent the runner
// prints why and exits 77, which ctest reports as "Skipped". fixture_cuda* suites likewise
// skip without CUDA, and report_browser without a headless browser (tests/browser.h).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "common/cpu_runtime.h"
#include "tests/browser.h"
#include "tests/support.h"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const std::string key = "--test-suite=fixture_";
    if (a.rfind("--test-suite=fixture_cuda", 0) == 0 && !at::hasCUDA()) {
      std::printf("SKIPPED: %s needs a CUDA build of libtorch and a GPU\n", a.c_str() + 13);
      return 77;
    }
    if (a == "--test-suite=report_browser" && headscope::test::find_browser().empty()) {
      std::printf("SKIPPED: report_browser needs a headless browser: Debian's chromium "
                  "(apt-get install chromium) or $HEADSCOPE_BROWSER\n");
      return 77;
    }
    if (a.rfind(key, 0) == 0 && !headscope::test::have_shared()) {
      std::printf("SKIPPED: %s needs %s (not present)\n", a.c_str() + 13,
                  headscope::test::shared_dir().c_str());
      return 77;
    }
  }
  headscope::configure_cpu_runtime(2);
  doctest::Context ctx;
  ctx.applyCommandLine(argc, argv);
  return ctx.run();
}
