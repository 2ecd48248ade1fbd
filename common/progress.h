// A one-line progress bar on stderr (only when stderr is a terminal, unless forced).
#pragma once
#include <chrono>
#include <string>

namespace headscope {

class Progress {
 public:
  Progress(std::string label, long total);
  void update(long done);  // redraws at most ~10 times a second
  void finish();
  ~Progress();

 private:
  std::string label_;
  long total_;
  bool enabled_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace headscope
