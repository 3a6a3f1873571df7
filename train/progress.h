// One status line every few seconds for long loops:
//   step 120/1000  loss 0.4321  lr 1.00e-01  412.3 img/s  elapsed 0:17  ETA 2:05
// On a terminal (set_one_line) the line is redrawn in place instead; other output then calls
// end_line() first, so a log file gets plain lines and a terminal one moving line.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <string>
#include <utility>

namespace bitgrad {

// The width of the terminal on standard output, in columns; 0 when it is not a terminal.
int terminal_columns();

class ProgressMeter {
 public:
  ProgressMeter(int64_t total_steps, int64_t images_per_step, double print_every_seconds = 5.0,
                std::ostream& out = std::cout);

  // Call after step `step` (1-based count of completed steps) finishes. Prints when the interval
  // has passed, and always at the last step. `extra` is appended to the line.
  void update(int64_t step, double loss, double lr, const std::string& extra = "");

  // Redraw one line ("\r") instead of printing a new one each time: for terminals. The line is
  // fitted to the terminal's width, since "\r" redraws only the last row of a wrapped one.
  void set_one_line(bool one_line) { one_line_ = one_line; }
  // Ends a line being redrawn, so that other output starts on a fresh line.
  void end_line();

  // Starts the pace at `step` (a resumed run's first), forgetting the updates timed before.
  void restart(int64_t step);
  // The pauses in the updates still to come (the evaluations), which the ETA adds at the length
  // of the last one (the first evaluation also decodes the test images for the rest).
  void set_pauses_left(int64_t pauses) { pauses_left_ = pauses; }
  // Call when a pause (an evaluation) ends: its time since the last update counts in the ETA's
  // pauses, not in the pace, which goes on over the updates before and after it.
  void end_pause();

  using Clock = std::chrono::steady_clock;
  // For tests: the time, instead of the steady clock's (set it before anything else).
  void set_clock(std::function<Clock::time_point()> now);
  // For tests: the terminal's width, instead of terminal_columns().
  void set_columns(std::function<int()> columns) { columns_ = std::move(columns); }

 private:
  int64_t total_steps_, images_per_step_;
  double print_every_;
  std::ostream& out_;
  Clock::time_point began_;       // construction: the elapsed time
  Clock::time_point last_print_;
  // The pace: updates timed in earlier stretches between pauses, then the current stretch.
  double timed_seconds_ = 0;
  int64_t timed_steps_ = 0;
  Clock::time_point stretch_start_, last_update_;
  int64_t stretch_start_step_ = 0, last_step_ = 0;
  double last_pause_seconds_ = 0;  // 0: none yet
  int64_t pauses_left_ = 0;
  bool one_line_ = false, line_open_ = false;
  std::function<Clock::time_point()> now_ = Clock::now;
  std::function<int()> columns_ = terminal_columns;
};

// Whether standard output is a terminal (not a pipe or a file).
bool stdout_is_terminal();

// "1:02:03" or "2:05".
std::string format_duration(double seconds);

// The seconds the rest of `total` units of work will take if it goes at the pace `done` of them
// took `elapsed_seconds`; 0 before any is done.
double seconds_left(double elapsed_seconds, int64_t done, int64_t total);

}  // namespace bitgrad
