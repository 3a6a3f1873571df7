#include "train/run_dir.h"

#include <filesystem>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "tests/data/temp_files.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::fails_naming;

// Two runs never share a run directory, even when its lock file was deleted by hand (a lock that
// looked stale): the folder itself is locked too. flock() locks of two opens conflict within one
// process as between two, so one process stands for both runs.
TEST(RunDirTest, ASecondRunIsKeptOutEvenWhenTheLockFileWasDeleted) {
  const std::string out = testing::fresh_temp_dir("run_dir_locked");
  std::optional<absl::StatusOr<RunDirectory>> first = RunDirectory::open(out);
  ASSERT_TRUE(first->ok()) << first->status();
  EXPECT_TRUE(fails_naming(RunDirectory::open(out).status(), {out, "in use by another run"}));

  ASSERT_TRUE(std::filesystem::remove(lock_path(out)));
  EXPECT_TRUE(fails_naming(check_run_directory_usable(out),
                           {out, "in use by another run (which holds the folder; its " +
                                     lock_path(out) + " was deleted)"}));
  EXPECT_TRUE(fails_naming(RunDirectory::open(out).status(), {out, "in use by another run"}));

  first.reset();  // the first run ends
  EXPECT_TRUE(check_run_directory_usable(out).ok());
  EXPECT_TRUE(RunDirectory::open(out).ok());
}

}  // namespace
}  // namespace bitgrad
