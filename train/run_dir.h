// The run directory (--out) of a training run, held for the run's lifetime: created if needed,
// checked writable before any work starts, and locked so that two runs never write one
// directory. The locks are flock() on OUT/lock and on the folder itself, which the kernel
// releases when the process dies, so a run killed with SIGKILL never leaves them stuck; the
// folder's keeps a second run out when OUT/lock was deleted by hand (except where folders cannot
// be locked, on NFS). A link at OUT/lock is refused, not followed. Opening also deletes the
// temporaries
// (NAME.tmp-PID-N, io/atomic_file.h) that a killed run left mid-write; holding the lock, no
// other process can be writing them.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "models/checkpoint.h"

namespace bitgrad {

// OUT/checkpoint.ckpt: the run's checkpoint, written at each evaluation.
std::string checkpoint_path(const std::string& out);
// OUT/metrics.jsonl: the run's scalars (train/metrics_log.h).
std::string metrics_path(const std::string& out);
// OUT/lock: the file a live run locks, holding its pid.
std::string lock_path(const std::string& out);

// OK unless `path` is a file name a run in `out` deletes when it starts, a temporary of an
// atomic write (NAME.tmp-PID-N); else an error naming `flag`.
absl::Status check_not_a_run_temporary(const std::string& flag, const std::string& path,
                                       const std::string& out);

// The checkpoint in `out` to resume, read; else the error --resume gives (none written yet, or
// load_checkpoint's).
absl::StatusOr<Checkpoint> read_checkpoint_to_resume(const std::string& out);

// OK unless `path` (--out) is a file, cannot be looked at, is held by a live run, or exists and
// cannot be written: checked before a run loads anything, and before what it does with a
// directory's contents, so that a busy one is named as such, not as a finished run to delete.
// The same errors as RunDirectory::open's.
absl::Status check_run_directory_usable(const std::string& path);

class RunDirectory {
 public:
  // Errors name --out and the directory: not creatable, not writable, or in use by another
  // process (whose pid the lock file holds).
  static absl::StatusOr<RunDirectory> open(const std::string& path);
  RunDirectory(RunDirectory&& other) noexcept;
  RunDirectory& operator=(RunDirectory&&) = delete;
  ~RunDirectory();  // releases the lock

  const std::string& path() const { return path_; }

 private:
  RunDirectory(std::string path, int lock_fd, int folder_fd)
      : path_(std::move(path)), lock_fd_(lock_fd), folder_fd_(folder_fd) {}
  std::string path_;
  int lock_fd_ = -1;    // OUT/lock, flocked
  int folder_fd_ = -1;  // OUT itself, flocked (-1 where folders cannot be)
};

}  // namespace bitgrad
