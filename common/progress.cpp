#include "common/progress.h"

#include <unistd.h>

#include <cstdio>

namespace headscope {

Progress::Progress(std::string label, long total)
    : label_(std::move(label)), total_(total), enabled_(::isatty(2) != 0) {
  start_ = last_ = std::chrono::steady_clock::now();
}

void Progress::update(long done) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  const int width = 30;
  double frac = total_ > 0 ? double(done) / double(total_) : 1.0;
  int fill = static_cast<int>(frac * width);
  double secs = std::chrono::duration<double>(now - start_).count();
  std::fprintf(stderr, "\r%-24s [%.*s%*s] %ld/%ld %.1fs", label_.c_str(), fill,
               "##############################", width - fill, "", done, total_, secs);
  std::fflush(stderr);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  update(total_);
  std::fprintf(stderr, "\n");
}

Progress::~Progress() { finish(); }

}  // namespace headscope
