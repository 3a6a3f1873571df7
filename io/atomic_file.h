// Writing files so that a crash or a full disk never leaves a half-written file behind: the
// data goes to a temporary file in the same directory, is flushed to disk, and only then
// renamed over the destination (an atomic replace on POSIX). An existing file at `path` stays
// intact until the new one is complete. A write that succeeds also deletes the temporaries that
// earlier writes of `path` left when they were killed, those of processes no longer running here
// (a writer on another machine, or in another container's PID namespace, sharing the folder
// would look gone: write one output from one of them at a time).
//
// For tests that kill a writer mid-write: the environment variable
// BITGRAD_TEST_PAUSE_BEFORE_PUBLISH_MS=N makes every write wait N ms after the temporary file
// is complete and before it is renamed into place (tests/train/kill_test.cc).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace bitgrad {

// Appends bytes to the file being written; returns an error status on failure.
class FileSink {
 public:
  virtual ~FileSink() = default;
  virtual absl::Status write(const void* data, size_t nbytes) = 0;
};

// Calls `fill` with a sink for the new contents of `path`; publishes them only if `fill` and
// every write succeed. Errors name the path. A `path` that is a folder, device, pipe or socket
// is refused, not replaced.
absl::Status write_file_atomically(const std::string& path,
                                   const std::function<absl::Status(FileSink&)>& fill);

// The same for writers that open the file themselves (libzip): `write` creates the new contents
// at `temporary_path`, beside `path`; they are published only if it succeeds.
absl::Status write_file_atomically_via(
    const std::string& path,
    const std::function<absl::Status(const std::string& temporary_path)>& write);

// Whether a file can be written at `path` as above: its folder exists and takes new files, and
// `path` is no folder, device, pipe or socket (a rename would replace /dev/null). For an output
// flag, checked before the work that makes the output, not after it. Errors name the path and
// what is wrong.
absl::Status check_writable_path(const std::string& path);
// The same for an output flag's value: OK when `path` is empty (no output asked for); an error
// starts with the flag ("--save_weights: cannot write ...").
absl::Status check_output_flag(const std::string& flag, const std::string& path);

// A file a program reads or writes, named for messages by the flag that gives it ("--weights",
// "--out's checkpoint").
struct FlagPath {
  std::string flag;
  std::string path;  // empty: none
};

// Whether `a` and `b` name one file or folder, whether or not it exists yet: after `..`, links
// and hard links, and a trailing '/' ("OUT/" names OUT).
bool same_file(const std::string& a, const std::string& b);

// Refuses an output that names the same file as an input or another output (after `..`, links
// and hard links), before anything is written: --save_weights=RUN/checkpoint.ckpt replaced the
// run's checkpoint, and --output=WEIGHTS the weights, without a word.
absl::Status check_outputs_overwrite_nothing(const std::vector<FlagPath>& inputs,
                                             const std::vector<FlagPath>& outputs);

// Whether `file_name` (without its folder) has the form of the temporaries above,
// NAME.tmp-PID-N, or that with libzip's suffix for its own temporary of one (.XXXXXX, six
// letters and digits, or eight in later libzip): what a writer killed before publishing leaves
// behind, safe to delete once no writer can be running. Other names, a user's "notes.tmp-1.txt"
// say, are not.
bool is_atomic_write_temporary(const std::string& file_name);

}  // namespace bitgrad
