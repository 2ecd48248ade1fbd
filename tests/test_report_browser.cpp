// The HTML report in a real headless browser (Debian's chromium): the page is opened at
// #head=L.H, its script clicks that head's cell in the explorer grid, and the DOM dumped after
// the scripts ran must show that head's type and confidence in the panel. Skipped (exit 77,
// tests/main.cpp) where no browser is installed.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "common/atomic_file.h"
#include "tests/browser.h"
#include "tests/support.h"
#include "tests/viz_checks.h"
#include "viz/report_html.h"

using namespace headscope;
using headscope::test::TempDir;

namespace {

// The DOM after the page's scripts ran (chromium --dump-dom), or "" on failure.
std::string dump_dom(const std::string& url, const std::string& profile_dir) {
  const std::string cmd = "timeout 120 " + test::find_browser() +
                          " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage"
                          " --no-first-run --disable-extensions --user-data-dir=" +
                          profile_dir + " --virtual-time-budget=5000 --dump-dom '" + url +
                          "' 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return "";
  std::string out;
  std::array<char, 8192> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = ::pclose(p);
  INFO("browser exit status " << (WIFEXITED(st) ? WEXITSTATUS(st) : -1));
  return out;
}

std::string fmt4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

}  // namespace

TEST_SUITE("report_browser") {
  TEST_CASE("clicking a head in the explorer shows its type and confidence") {
    REQUIRE_FALSE(test::find_browser().empty());
    TempDir d;
    const std::string dir = test::repo("results/main-job");
    viz::ReportOptions o;
    o.figures = false;  // the explorer is what is tested; figures are checked in suite report
    viz::write_report(dir, d.file("report.html"), o);
    // A head whose type differs from the first head's, so a wrong panel cannot pass.
    const auto cls = read_json_file(dir + "/head_classifications.json")["classifications"];
    nlohmann::json pick = cls.back();
    for (const auto& c : cls)
      if (c["head_type"] != cls[0]["head_type"]) pick = c;
    const std::string key = std::to_string(pick["layer_idx"].get<int>()) + "." +
                            std::to_string(pick["head_idx"].get<int>());
    const std::string type = pick["head_type"];
    const std::string conf = fmt4(pick["confidence"].get<double>());
    INFO("head " << key << ": " << type << " " << conf);
    const std::string dom = dump_dom("file://" + d.file("report.html") + "#head=" + key, d.file("profile"));
    REQUIRE_MESSAGE(dom.find("</html>") != std::string::npos, "no DOM from the browser");
    CHECK(dom.find("<h3 id=\"p-head\">layer " + std::to_string(pick["layer_idx"].get<int>()) +
                   ", head " + std::to_string(pick["head_idx"].get<int>()) + "</h3>") !=
          std::string::npos);
    CHECK(dom.find("<span id=\"p-type\">" + type + "</span>") != std::string::npos);
    CHECK(dom.find("<span id=\"p-confidence\">" + conf + "</span>") != std::string::npos);
    CHECK(dom.find("id=\"p-relpos\"") != std::string::npos);            // the profile chart
    CHECK(dom.find("class=\"cell sel\" type=\"button\" data-head=\"" + key + "\"") !=
          std::string::npos);                                           // the clicked cell
    // The grid has a button per head (data-head="L.H"; the script's own text is not counted).
    size_t cells = 0;
    const std::string attr = "data-head=\"";
    for (size_t at = dom.find(attr); at != std::string::npos; at = dom.find(attr, at + 1))
      cells += at + attr.size() < dom.size() && std::isdigit(uint8_t(dom[at + attr.size()]));
    CHECK(cells == cls.size());
  }
}
