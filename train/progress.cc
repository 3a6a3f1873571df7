#include "train/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <utility>

namespace bitgrad {
namespace {

// The line `head + elapsed + tail` in fewer than `columns` characters (0: any length): a line
// that fills the width wraps. The elapsed time goes first, as the ETA says more; then the end.
std::string fitted_line(const std::string& head, const std::string& elapsed,
                        const std::string& tail, int columns) {
  std::string line = head + elapsed + tail;
  if (columns <= 0 || line.size() < static_cast<size_t>(columns)) return line;
  line = head + tail;
  if (line.size() >= static_cast<size_t>(columns)) line.resize(columns - 1);
  return line;
}

}  // namespace

int terminal_columns() {
  winsize size{};
  return ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 ? size.ws_col : 0;
}

ProgressMeter::ProgressMeter(int64_t total_steps, int64_t images_per_step,
                             double print_every_seconds, std::ostream& out)
    : total_steps_(total_steps), images_per_step_(images_per_step),
      print_every_(print_every_seconds), out_(out), began_(Clock::now()), last_print_(began_),
      stretch_start_(began_), last_update_(began_) {}

void ProgressMeter::set_clock(std::function<Clock::time_point()> now) {
  now_ = std::move(now);
  began_ = last_print_ = stretch_start_ = last_update_ = now_();
}

void ProgressMeter::restart(int64_t step) {
  timed_seconds_ = 0;
  timed_steps_ = 0;
  stretch_start_ = last_update_ = now_();
  stretch_start_step_ = last_step_ = step;
}

void ProgressMeter::end_pause() {
  const Clock::time_point now = now_();
  last_pause_seconds_ = std::chrono::duration<double>(now - last_update_).count();
  if (pauses_left_ > 0) --pauses_left_;
  timed_seconds_ += std::chrono::duration<double>(last_update_ - stretch_start_).count();
  timed_steps_ += last_step_ - stretch_start_step_;
  stretch_start_ = last_update_ = now;
  stretch_start_step_ = last_step_;
}

void ProgressMeter::update(int64_t step, double loss, double lr, const std::string& extra) {
  const Clock::time_point now = now_();
  last_step_ = step;
  last_update_ = now;
  bool due = std::chrono::duration<double>(now - last_print_).count() >= print_every_;
  if (!due && step != total_steps_) return;
  last_print_ = now;
  const double seconds =
      timed_seconds_ + std::chrono::duration<double>(now - stretch_start_).count();
  const int64_t steps = timed_steps_ + (step - stretch_start_step_);
  const double steps_per_second = seconds > 0 ? steps / seconds : 0.0;
  const double eta = seconds_left(seconds, steps, steps + total_steps_ - step) +
                     last_pause_seconds_ * pauses_left_;
  char head[160];
  std::snprintf(head, sizeof head, "step %lld/%lld  loss %.4f  lr %.2e  %.1f img/s",
                static_cast<long long>(step), static_cast<long long>(total_steps_), loss, lr,
                steps_per_second * images_per_step_);
  const std::string elapsed =
      "  elapsed " + format_duration(std::chrono::duration<double>(now - began_).count());
  const std::string tail = "  ETA " + format_duration(eta) + (extra.empty() ? "" : "  " + extra);
  if (one_line_) {
    out_ << "\r" << fitted_line(head, elapsed, tail, columns_()) << "\033[K" << std::flush;
    line_open_ = true;
  } else {
    out_ << head << elapsed << tail << std::endl;
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
