#include "examples/common/invocation.h"

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <new>

#include "core/check.h"
#include "gtest/gtest.h"

namespace bitgrad {
namespace {

// A program's main() around `run`; in a death test's child, since a process sets its usage
// message once.
[[noreturn]] void exit_as_program(const std::function<absl::Status()>& run) {
  char name[] = "program";
  char* argv[] = {name, nullptr};
  std::exit(run_program(1, argv, "usage: program", run));
}

TEST(RunProgramTest, ExceptionsBecomeOneErrorLineAndExitCode1) {
  EXPECT_EXIT(exit_as_program([]() -> absl::Status { throw std::bad_alloc(); }),
              ::testing::ExitedWithCode(1), "^error: out of memory\n$");
  EXPECT_EXIT(exit_as_program([]() -> absl::Status { throw Error("no such file"); }),
              ::testing::ExitedWithCode(1), "^error: no such file\n$");
  EXPECT_EXIT(exit_as_program([] { return absl::OkStatus(); }), ::testing::ExitedWithCode(0),
              "^$");
}

// A BUILD_WORKING_DIRECTORY set but empty is no directory: no move, and no warning about one.
TEST(RunFromInvocationDirectoryTest, AnEmptyDirectoryIsLeftAlone) {
  const std::filesystem::path before = std::filesystem::current_path();
  setenv("BUILD_WORKING_DIRECTORY", "", 1);
  ::testing::internal::CaptureStderr();
  run_from_invocation_directory();
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(std::filesystem::current_path(), before);
  unsetenv("BUILD_WORKING_DIRECTORY");
}

}  // namespace
}  // namespace bitgrad
