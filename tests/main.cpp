// doctest runner. `--test-suite=fixture_*` suites need ../shared: when it is absent the runner
// prints why and exits 77, which ctest reports as "Skipped". fixture_cuda* suites likewise
// skip without CUDA, and report_browser without a headless browser (tests/browser.h).
// Two ways of passing without testing anything fail instead:
//  - ../shared present but without its fixtures/ (a fixture suite would skip although the
//    shared data is there): exit 1;
//  - a run whose filters select no test case (e.g. a file whose TEST_SUITE name differs from
//    the file name, so its ctest entry --test-suite=<file name> runs nothing): exit 1.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "common/cpu_runtime.h"
#include "tests/browser.h"
#include "tests/support.h"

namespace {

// The number of test cases the run selected (set when a run, not a query, ends).
struct RunCount {
  bool ran = false;
  unsigned selected = 0;
};
RunCount g_count;

struct CountListener : doctest::IReporter {
  explicit CountListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& s) override {
    g_count.ran = true;
    g_count.selected = s.numTestCasesPassingFilters;
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

DOCTEST_REGISTER_LISTENER("headscope_count", 1, CountListener);

int main(int argc, char** argv) {
  std::string filters;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--test-suite", 0) == 0 || a.rfind("-ts", 0) == 0 || a.rfind("--test-case", 0) == 0 ||
        a.rfind("-tc", 0) == 0)
      filters += (filters.empty() ? "" : " ") + a;
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
      const std::string dir = headscope::test::shared_dir();
      std::error_code ec;
      if (std::filesystem::exists(dir, ec)) {
        std::printf("FAILED: %s: %s exists but holds no fixtures/; a fixture suite does not skip "
                    "when the shared data is present\n",
                    a.c_str() + 13, dir.c_str());
        return 1;
      }
      std::printf("SKIPPED: %s needs %s (not present)\n", a.c_str() + 13, dir.c_str());
      return 77;
    }
  }
  headscope::configure_cpu_runtime(2);
  doctest::Context ctx;
  ctx.applyCommandLine(argc, argv);
  const int rc = ctx.run();
  if (ctx.shouldExit() || rc != 0) return rc;
  if (g_count.ran && g_count.selected == 0) {
    std::printf("FAILED: no test case matches %s (does the file's TEST_SUITE name match?)\n",
                filters.empty() ? "the run" : filters.c_str());
    return 1;
  }
  return rc;
}
