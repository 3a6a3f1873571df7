// Runs examples/bit_finetune as a user would (a child process, its output in files), on a tiny
// dataset and model that train in a fraction of a second per step. For the tests that kill,
// starve and misuse whole runs.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "train/run_config.pb.h"

namespace bitgrad {
namespace testing {

// A keras-style .npz (data/keras_npz.h) at `path`: 24 random 8x8 RGB training images of 3
// classes, and the first 6 again as the test split.
void write_tiny_dataset(const std::string& path);

// For run_finetune in the test's own process: a random-init BiT R50 of base width 4 on the
// committed 3-class golden data (tests/train/testdata/finetune_golden_data.npz, 32 px), one
// update of 4 images at a constant lr of 0.003, no augmentation or mixup, one loader thread.
// Tests change what they test.
RunConfig tiny_golden_run();

// Flags for a random-init BiT R50 of base width 4 on `dataset` writing to `out`: `steps`
// updates of 8 images in 2 micro-batches, with shuffling, BiT augmentation and mixup, a
// checkpoint every `eval_every` updates, and the final weights in out/final.npz.
std::vector<std::string> tiny_run_flags(const std::string& dataset, const std::string& out,
                                        int64_t steps, int64_t eval_every);

struct ChildOptions {
  int64_t file_size_limit = -1;  // RLIMIT_FSIZE in bytes (SIGXFSZ as a shell leaves it)
  std::vector<std::string> env;  // "NAME=value" added to the environment
  std::string log_prefix;        // stdout and stderr go to <log_prefix>.out and .err
  bool ignore_sigint = false;    // as a script's background job (`cmd &`) starts
  // Runs "LAUNCHER... examples/bit_finetune FLAGS...": {"/usr/bin/mpirun", "-np", "2"}.
  std::vector<std::string> launcher;
};

// Starts bit_finetune with `flags` (under options.launcher, if any); returns its pid.
pid_t start_finetune(const std::vector<std::string>& flags, const ChildOptions& options);

struct Finished {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out, err;
};

// Waits for `pid`, started with `options`.
Finished wait_finetune(pid_t pid, const ChildOptions& options);

// Whether out/ holds a checkpoint being written (a temporary of io/atomic_file.h).
bool has_checkpoint_temporary(const std::string& out);

// Whether `pid` has ended, without reaping it (wait_finetune still can).
bool has_exited(pid_t pid);

// start_finetune, then wait_finetune.
Finished run_finetune_binary(const std::vector<std::string>& flags, const ChildOptions& options);

std::string read_file(const std::string& path);  // empty when missing

// train/loss of every update in out/metrics.jsonl, in order; expects the log to exist and parse
// and the updates to be numbered 1, 2, ...
std::vector<double> train_losses(const std::string& out);

}  // namespace testing
}  // namespace bitgrad
