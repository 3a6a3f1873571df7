// A run's scalars as JSON lines, one object per call, "step" first:
//   {"step": 40, "train/loss": 0.6931471805599453, "train/lr": 0.003}
// and the same scalars as TensorBoard events in the directory `tensorboard/` beside the file
// (train/tensorboard.h; `tensorboard --logdir RUN_DIR/tensorboard`).
// Values are printed with 17 significant digits, so they read back bit for bit (the resume test
// compares losses exactly). Each line goes out in one write() on an O_APPEND file, so a killed
// run leaves whole lines behind.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "train/tensorboard.h"

namespace bitgrad {

using Scalars = std::vector<std::pair<std::string, double>>;

class MetricsLog {
 public:
  // Opens `path` for appending. A resumed run passes the step it resumes from: lines of later
  // steps (written after that checkpoint by the run that was killed) are dropped first, so the
  // file reads as if the run had never stopped; so are lines a crash cut short (notes()). A fresh
  // run (keep_up_to_step < 0) starts an empty file. The TensorBoard events go to a new file in
  // the run directory's tensorboard/, marked as a start at keep_up_to_step + 1 (step 0 for a
  // fresh run), so that TensorBoard drops what earlier files logged from there on, as this file
  // drops from metrics.jsonl. An empty path logs nothing.
  static absl::StatusOr<MetricsLog> open(const std::string& path, int64_t keep_up_to_step = -1);
  MetricsLog(MetricsLog&& other) noexcept;
  MetricsLog& operator=(MetricsLog&&) = delete;
  ~MetricsLog();

  // The one place where a run's scalars are recorded: a JSON line and TensorBoard events.
  absl::Status log(int64_t step, const Scalars& scalars);

  // Puts what was logged on the disk (fdatasync), so that a checkpoint published after it never
  // comes after lines a crash of the machine lost.
  absl::Status sync();

  // What open() mended in a resumed run's file, one line each: lines cut short, unreadable or
  // out of step order (a crash of the machine), dropped; lines missing before the checkpoint.
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  MetricsLog(std::string path, int fd, std::unique_ptr<TensorBoardWriter> tensorboard)
      : path_(std::move(path)), fd_(fd), tensorboard_(std::move(tensorboard)) {}
  std::string path_;
  int fd_ = -1;
  std::unique_ptr<TensorBoardWriter> tensorboard_;
  std::vector<std::string> notes_;
};

// The lines of a metrics file, parsed: (step, scalars) in file order. For tests and tools.
absl::StatusOr<std::vector<std::pair<int64_t, Scalars>>> read_metrics(const std::string& path);

}  // namespace bitgrad
