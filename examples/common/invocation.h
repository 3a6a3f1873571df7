// `bazel run` starts a program inside its runfiles tree, so relative paths on the command line
// (--weights=model.npz) would not mean what the user typed. Programs call this first: it moves
// to the directory `bazel run` was invoked from (BUILD_WORKING_DIRECTORY), and does nothing when
// the binary is run directly.
#pragma once

namespace bitgrad {

void run_from_invocation_directory();

}  // namespace bitgrad
