#include "train/run_dir.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

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

// OUT/lock names the run that holds it, so that "in use" says which process to wait for.
TEST(RunDirTest, TheLockFileHoldsThePidOfTheRun) {
  const std::string out = testing::fresh_temp_dir("run_dir_pid");
  absl::StatusOr<RunDirectory> run = RunDirectory::open(out);
  ASSERT_TRUE(run.ok()) << run.status();
  std::ifstream lock(lock_path(out));
  const std::string contents((std::istreambuf_iterator<char>(lock)),
                             std::istreambuf_iterator<char>());
  EXPECT_EQ(contents, std::to_string(::getpid()) + "\n");
  EXPECT_TRUE(fails_naming(RunDirectory::open(out).status(),
                           {"process " + std::to_string(::getpid()) + " holds " + lock_path(out)}));
}

// A run killed mid-write leaves NAME.tmp-PID-N behind; the next run in the folder deletes such
// temporaries (none can be a live run's: the folder is locked) and nothing else.
TEST(RunDirTest, OpeningDeletesTheTemporariesOfAnEarlierRunOnly) {
  const std::string out = testing::fresh_temp_dir("run_dir_temporaries");
  const std::string temporary = testing::write_file(out + "/checkpoint.ckpt.tmp-1-0", "cut");
  const std::vector<std::string> kept = {testing::write_file(out + "/metrics.jsonl", "{}\n"),
                                         testing::write_file(out + "/notes.tmp-1.txt", "mine")};
  ASSERT_TRUE(RunDirectory::open(out).ok());
  EXPECT_FALSE(std::filesystem::exists(temporary));
  for (const std::string& file : kept) EXPECT_TRUE(std::filesystem::exists(file)) << file;
}

// A name like a temporary is refused only inside the run directory, which deletes such files.
TEST(RunDirTest, ANameLikeATemporaryIsRefusedOnlyInTheRunDirectory) {
  const std::string out = testing::fresh_temp_dir("run_dir_named_temporary");
  const std::string elsewhere = testing::fresh_temp_dir("run_dir_elsewhere");
  EXPECT_TRUE(fails_naming(
      check_not_a_run_temporary("--save_weights", out + "/final.npz.tmp-1-1", out),
      {"--save_weights", "final.npz.tmp-1-1", "deletes when it starts"}));
  EXPECT_TRUE(
      check_not_a_run_temporary("--save_weights", elsewhere + "/final.npz.tmp-1-1", out).ok());
  EXPECT_TRUE(check_not_a_run_temporary("--save_weights", out + "/final.npz", out).ok());
  EXPECT_TRUE(check_not_a_run_temporary("--save_weights", out + "/final.npz.tmp-1-1", "").ok());
}

TEST(RunDirTest, AFileIsNoRunDirectory) {
  const std::string file = testing::write_file(::testing::TempDir() + "/run_dir_a_file", "x");
  EXPECT_TRUE(fails_naming(check_run_directory_usable(file), {file, "a file, not a folder"}));
}

TEST(RunDirTest, ResumingWithoutACheckpointSaysSo) {
  const std::string out = testing::fresh_temp_dir("run_dir_no_checkpoint");
  const absl::Status status = read_checkpoint_to_resume(out).status();
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_TRUE(fails_naming(status, {"--resume: no checkpoint " + checkpoint_path(out)}));
}

}  // namespace
}  // namespace bitgrad
