// Progress of long work on stderr. On a terminal: one live line, redrawn at most ~10 times a
// second, with a bar, done/total in the unit given, the rate and the ETA. Otherwise (piped,
// logged): one plain line every ~5 s ("label: 12/40 chunks (30%), 3.1 chunks/s, ETA 9 s"), and a
// closing line if any was printed, so short work prints nothing. The global --quiet
// (set_quiet) silences both. $HEADSCOPE_PROGRESS_INTERVAL (seconds) overrides the 5 s.
#pragma once
#include <chrono>
#include <string>

namespace headscope {

class Progress {
 public:
  Progress(std::string label, long total, std::string unit = "steps");
  void update(long done);
  void finish();
  ~Progress();

  static void set_quiet(bool quiet);
  static bool quiet();

 private:
  void draw_bar(long done, double secs);
  void plain_line(long done, double secs);

  std::string label_, unit_;
  long total_, done_ = 0, first_done_ = -1;
  bool tty_, enabled_, finished_ = false, printed_ = false;
  double interval_s_;
  std::chrono::steady_clock::time_point start_, last_;
};

// "7 s", "2 min 05 s", "1 h 03 min"
std::string format_duration(double seconds);

}  // namespace headscope
