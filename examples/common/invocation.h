// `bazel run` starts a program inside its runfiles tree, so relative paths on the command line
// (--weights=model.npz) would not mean what the user typed. Programs call this first: it moves
// to the directory `bazel run` was invoked from (BUILD_WORKING_DIRECTORY), and does nothing when
// the binary is run directly.
#pragma once

#include <functional>

#include "absl/status/status.h"

namespace bitgrad {

void run_from_invocation_directory();

// The whole main() of a program: makes `usage` the first line of --help, calls
// run_from_invocation_directory(), parses the Abseil flags and runs `run`. Returns 0 when it
// succeeds; a failed status or a thrown exception is printed as "error: ..." and returns 1.
int run_program(int argc, char** argv, const char* usage,
                const std::function<absl::Status()>& run);

}  // namespace bitgrad
