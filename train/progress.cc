#include "train/progress.h"

#include <unistd.h>

#include <cstdio>

namespace bitgrad {

ProgressMeter::ProgressMeter(int64_t total_steps, int64_t images_per_step,
                             double print_every_seconds, std::ostream& out)
    : total_steps_(total_steps), images_per_step_(images_per_step),
      print_every_(print_every_seconds), out_(out), began_(Clock::now()), start_(began_),
      last_print_(began_) {}

void ProgressMeter::restart(int64_t step) {
  start_ = Clock::now();
  start_step_ = step;
  last_step_ = step;
}

double ProgressMeter::images_per_second() const {
  double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  return seconds > 0 ? (last_step_ - start_step_) * images_per_step_ / seconds : 0.0;
}

void ProgressMeter::update(int64_t step, double loss, double lr, const std::string& extra) {
  last_step_ = step;
  Clock::time_point now = Clock::now();
  bool due = std::chrono::duration<double>(now - last_print_).count() >= print_every_;
  if (!due && step != total_steps_) return;
  last_print_ = now;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double steps_per_second = elapsed > 0 ? (step - start_step_) / elapsed : 0.0;
  double eta = seconds_left(elapsed, step - start_step_, total_steps_ - start_step_);
  char line[256];
  const double total_elapsed = std::chrono::duration<double>(now - began_).count();
  std::snprintf(line, sizeof line,
                "step %lld/%lld  loss %.4f  lr %.2e  %.1f img/s  elapsed %s  ETA %s",
                static_cast<long long>(step), static_cast<long long>(total_steps_), loss, lr,
                steps_per_second * images_per_step_, format_duration(total_elapsed).c_str(),
                format_duration(eta).c_str());
  if (one_line_) {
    out_ << "\r" << line << (extra.empty() ? "" : "  ") << extra << "\033[K" << std::flush;
    line_open_ = true;
  } else {
    out_ << line << (extra.empty() ? "" : "  ") << extra << std::endl;
  }
}

void ProgressMeter::end_line() {
  if (line_open_) out_ << "\n";
  line_open_ = false;
}

bool stdout_is_terminal() { return isatty(STDOUT_FILENO) == 1; }

double seconds_left(double elapsed_seconds, int64_t done, int64_t total) {
  return done > 0 ? elapsed_seconds / done * (total - done) : 0.0;
}

std::string format_duration(double seconds) {
  long total = static_cast<long>(seconds + 0.5);
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
  }
  return text;
}

}  // namespace bitgrad
