// `bazel run` starts a program inside its runfiles tree, so relative paths on the command line
// (--weights=model.npz) would not mean what the user typed. Programs call this first: it moves
// to the directory `bazel run` was invoked from (BUILD_WORKING_DIRECTORY), and does nothing when
// the binary is run directly.
#pragma once

#include <functional>

namespace bitgrad {

void run_from_invocation_directory();

// The whole main() of a program whose errors are bitgrad::Errors: parses the Abseil flags,
// calls run_from_invocation_directory(), runs `run` and returns its exit status, or prints
// "error: ..." and returns 1 if it throws a bitgrad::Error.
int run_program(int argc, char** argv, const std::function<int()>& run);

}  // namespace bitgrad
