// The headless browser of the report_browser suite: $HEADSCOPE_BROWSER, else Debian's
// chromium (or chromium-browser, google-chrome) found in $PATH; "" when there is none
// (tests/main.cpp then reports the suite skipped, exit 77, with the reason).
#pragma once
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>

namespace headscope::test {

inline std::string find_browser() {
  auto executable = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (const char* e = std::getenv("HEADSCOPE_BROWSER"); e && *e) return executable(e) ? e : "";
  const char* path = std::getenv("PATH");
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    std::stringstream ss(path ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(ss, dir, ':'))
      if (!dir.empty() && executable(dir + "/" + name)) return dir + "/" + name;
  }
  return "";
}

}  // namespace headscope::test
