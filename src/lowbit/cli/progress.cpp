#include "lowbit/cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace lowbit::cli {

ProgressBar::ProgressBar() : start_(std::chrono::steady_clock::now()), enabled_(::isatty(STDERR_FILENO) != 0) {}

void ProgressBar::draw(double fraction, const std::string& detail, bool done) {
  if (!enabled_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = fraction > 0 ? elapsed * (1.0 - fraction) / fraction : 0.0;
  const int width = 30, filled = static_cast<int>(fraction * width);
  std::string bar(size_t(filled), '#');
  bar.resize(size_t(width), '.');
  std::fprintf(stderr, "\r[%s] %3d%%  %.1f s elapsed  ETA %.0f s  %-40.40s", bar.c_str(),
               static_cast<int>(fraction * 100), elapsed, eta, detail.c_str());
  if (done) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

}  // namespace lowbit::cli
