// Where a command's human-readable report goes. Normally stdout; when a machine-readable result
// is written to stdout ("--json -"), the report moves to stderr so that stdout carries only
// that result. ReportToStderr redirects file descriptor 1 to stderr for its lifetime (so every
// printf of the report lands there) and restores it before the result is written.
#pragma once
#include <unistd.h>

#include <cstdio>

namespace headscope::cli {

class ReportToStderr {
 public:
  explicit ReportToStderr(bool active) {
    if (!active) return;
    std::fflush(stdout);
    saved_ = ::dup(1);
    if (saved_ >= 0) ::dup2(2, 1);
  }
  // Puts the real stdout back (idempotent); call before writing the result to "-".
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stdout);
    ::dup2(saved_, 1);
    ::close(saved_);
    saved_ = -1;
  }
  ~ReportToStderr() { restore(); }
  ReportToStderr(const ReportToStderr&) = delete;
  ReportToStderr& operator=(const ReportToStderr&) = delete;

 private:
  int saved_ = -1;
};

}  // namespace headscope::cli
