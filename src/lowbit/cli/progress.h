// A one-line progress bar with elapsed time and ETA, redrawn in place on stderr. Only
// drawn when stderr is a terminal, so logs and pipes stay clean.
#pragma once

#include <chrono>
#include <string>

namespace lowbit::cli {

class ProgressBar {
 public:
  ProgressBar();
  // fraction in [0, 1]; detail is shown after the timings. done ends the line.
  void draw(double fraction, const std::string& detail, bool done = false);
  bool enabled() const { return enabled_; }

 private:
  std::chrono::steady_clock::time_point start_;
  bool enabled_;
};

}  // namespace lowbit::cli
