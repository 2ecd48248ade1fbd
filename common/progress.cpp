#include "common/progress.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace headscope {

namespace {
std::atomic<bool> g_quiet{false};

double plain_interval() {
  if (const char* e = std::getenv("HEADSCOPE_PROGRESS_INTERVAL")) {
    char* end = nullptr;
    double v = std::strtod(e, &end);
    if (end != e && v >= 0) return v;
  }
  return 5.0;
}

std::string rate_text(double done, double secs, const std::string& unit) {
  if (secs <= 0 || done <= 0) return "";
  char b[64];
  const double r = done / secs;
  if (r >= 1) std::snprintf(b, sizeof b, "%.*f %s/s", r >= 100 ? 0 : 1, r, unit.c_str());
  else std::snprintf(b, sizeof b, "%.1f s/%s", 1.0 / r, unit.c_str());
  return b;
}

std::string eta_text(long done, long total, double secs) {
  if (done <= 0 || total <= done || secs <= 0) return "";
  return "ETA " + format_duration(secs * double(total - done) / double(done));
}
}  // namespace

std::string format_duration(double s) {
  char b[48];
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 10) std::snprintf(b, sizeof b, "%.1f s", s);
  else if (s < 60) std::snprintf(b, sizeof b, "%.0f s", s);
  else if (s < 3600) std::snprintf(b, sizeof b, "%d min %02d s", int(s) / 60, int(s) % 60);
  else std::snprintf(b, sizeof b, "%d h %02d min", int(s) / 3600, (int(s) % 3600) / 60);
  return b;
}

void Progress::set_quiet(bool q) { g_quiet = q; }
bool Progress::quiet() { return g_quiet; }

Progress::Progress(std::string label, long total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(::isatty(2) != 0),
      enabled_(!g_quiet), interval_s_(plain_interval()) {
  start_ = last_ = std::chrono::steady_clock::now();
}

// Rate and ETA count from the first update (a bar created when the first step has finished
// does not know how long that step took).
void Progress::draw_bar(long done, double secs) {
  const int width = 24;
  const double frac = total_ > 0 ? std::min(1.0, double(done) / double(total_)) : 1.0;
  const int fill = static_cast<int>(frac * width);
  std::string rate = rate_text(double(done - first_done_), secs, unit_);
  std::string eta = eta_text(done - first_done_, total_ - first_done_, secs);
  std::fprintf(stderr, "\r%-22s [%.*s%*s] %ld/%ld %s  %s  %s\033[K", label_.c_str(), fill,
               "########################", width - fill, "", done, total_, unit_.c_str(),
               rate.c_str(), done >= total_ ? format_duration(secs).c_str() : eta.c_str());
  std::fflush(stderr);
}

void Progress::plain_line(long done, double secs) {
  std::string rate = rate_text(double(done - first_done_), secs, unit_);
  std::string eta = eta_text(done - first_done_, total_ - first_done_, secs);
  const double pct = total_ > 0 ? 100.0 * double(done) / double(total_) : 100.0;
  std::fprintf(stderr, "%s: %ld/%ld %s (%.0f%%)%s%s%s%s\n", label_.c_str(), done, total_,
               unit_.c_str(), pct, rate.empty() ? "" : ", ", rate.c_str(), eta.empty() ? "" : ", ",
               eta.c_str());
  std::fflush(stderr);
  printed_ = true;
}

void Progress::update(long done) {
  const auto now = std::chrono::steady_clock::now();
  if (first_done_ < 0) {
    first_done_ = done;
    start_ = last_ = now;
  }
  done_ = done;
  if (!enabled_ || g_quiet) return;
  const double since = std::chrono::duration<double>(now - last_).count();
  const double secs = std::chrono::duration<double>(now - start_).count();
  if (tty_) {
    if (printed_ && done < total_ && since < 0.1) return;
    last_ = now;
    draw_bar(done, secs);
    printed_ = true;
  } else {
    if (done >= total_ || since < interval_s_) return;
    last_ = now;
    plain_line(done, secs);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_ || g_quiet || !printed_) return;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (tty_) {
    draw_bar(std::max(done_, total_), secs);  // the whole run's time
    std::fprintf(stderr, "\n");
  } else {
    std::fprintf(stderr, "%s: %ld/%ld %s done in %s\n", label_.c_str(), std::max(done_, total_),
                 total_, unit_.c_str(), format_duration(secs).c_str());
  }
  std::fflush(stderr);
}

Progress::~Progress() { finish(); }

}  // namespace headscope
