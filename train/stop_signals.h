// SIGINT and SIGTERM while a run of one process trains (Ctrl-C; a batch system's notice before
// it kills a job): the run finishes the update in flight, checkpoints it and stops with a
// status that carries the signal (stopped_by_signal). examples/common's run_program prints its
// message, then ends the process by the same signal, so that a shell sees the process end by it
// and a script's loop stops at Ctrl-C as it would have before.
#pragma once

#include <csignal>
#include <string>

#include "absl/status/status.h"

namespace bitgrad {

// Catches SIGINT and SIGTERM while it lives, unless the process ignores them (a background job
// of a script ignores SIGINT on purpose). The first one is only noted (received()); the handlers
// in place before come back with it, so a second signal does what it did before this existed.
// SIGPIPE is ignored meanwhile: under `| tee log`, Ctrl-C ends tee as well, and a write to it
// must not kill the run before its checkpoint.
class StopOnSignals {
 public:
  StopOnSignals();
  ~StopOnSignals();
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

  // The signal received (0: none yet).
  int received() const;
};

// "SIGINT (Ctrl-C)" or "SIGTERM".
std::string signal_name(int signal);

// A Cancelled status with `message` that records `signal` as what stopped the run.
absl::Status stopped_by_signal(int signal, const std::string& message);
// The signal `status` records (stopped_by_signal), else 0.
int stopping_signal(const absl::Status& status);

}  // namespace bitgrad
