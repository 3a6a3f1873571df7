#include "io/atomic_file.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bitgrad {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

int files_in(const std::string& dir) {
  int count = 0;
  DIR* d = opendir(dir.c_str());
  while (dirent* entry = readdir(d)) count += entry->d_name[0] != '.';
  closedir(d);
  return count;
}

absl::Status write_text(FileSink& sink, const std::string& text) {
  return sink.write(text.data(), text.size());
}

TEST(AtomicFileTest, WritesAndReplaces) {
  std::string dir = ::testing::TempDir();
  std::string path = dir + "/atomic_replace.txt";
  ASSERT_TRUE(write_file_atomically(path, [](FileSink& s) { return write_text(s, "first"); }).ok());
  EXPECT_EQ(read_all(path), "first");
  ASSERT_TRUE(
      write_file_atomically(path, [](FileSink& s) { return write_text(s, "second"); }).ok());
  EXPECT_EQ(read_all(path), "second");
}

TEST(AtomicFileTest, AFailedFillLeavesTheOldFileAndNoTemporary) {
  std::string dir = ::testing::TempDir() + "/atomic_fail";
  mkdir(dir.c_str(), 0755);
  std::string path = dir + "/model.ckpt";
  ASSERT_TRUE(write_file_atomically(path, [](FileSink& s) { return write_text(s, "good"); }).ok());
  absl::Status status = write_file_atomically(path, [](FileSink& s) {
    absl::Status ok = write_text(s, "half-writ");
    return ok.ok() ? absl::DataLossError("simulated crash mid-write") : ok;
  });
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(read_all(path), "good");
  EXPECT_EQ(files_in(dir), 1);
}

// The temporaries a killed writer leaves are told apart from a user's files of similar names.
TEST(AtomicFileTest, ItsTemporariesAreRecognisedByName) {
  const std::string dir = ::testing::TempDir() + "/atomic_names";
  mkdir(dir.c_str(), 0755);
  std::string temporary;
  ASSERT_TRUE(write_file_atomically_via(dir + "/model.ckpt", [&](const std::string& path) {
                temporary = path;
                std::ofstream(path) << "x";
                return absl::OkStatus();
              }).ok());
  const std::string name = temporary.substr(temporary.rfind('/') + 1);
  EXPECT_TRUE(is_atomic_write_temporary(name)) << name;
  EXPECT_TRUE(is_atomic_write_temporary("checkpoint.ckpt.tmp-4242-0"));
  EXPECT_TRUE(is_atomic_write_temporary("final.npz.tmp-4242-1.a1B2c3"));  // libzip's
  EXPECT_TRUE(is_atomic_write_temporary("final.npz.tmp-4242-1.0a1b2c3d"));  // later libzip's
  for (const char* other : {"notes.tmp-1.txt", "final.tmp-backup.npz", "model.ckpt.tmp-12-3.bak",
                            ".tmp-1-2", "model.ckpt.tmp--1", "model.ckpt", "a.tmp-x-1"}) {
    EXPECT_FALSE(is_atomic_write_temporary(other)) << other;
  }
}

// A pid no process has: a child's, once it has exited and been reaped.
pid_t pid_of_a_process_that_is_gone() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  return child;
}

// What a bit_export or --save_weights killed before publishing left beside its output: the next
// write of that output deletes it, and leaves a running writer's temporaries and other files.
TEST(AtomicFileTest, AWriteDeletesTheTemporariesOfKilledWritesOfItsPath) {
  const std::string dir = ::testing::TempDir() + "/atomic_killed";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string gone = std::to_string(pid_of_a_process_that_is_gone());
  const std::string running = std::to_string(getpid());
  const std::vector<std::string> left = {"model.npz.tmp-" + gone + "-0",
                                         "model.npz.tmp-" + gone + "-3.a1B2c3"};
  const std::vector<std::string> kept = {"model.npz.tmp-" + running + "-9",
                                         "other.npz.tmp-" + gone + "-0",
                                         "model.npz.tmp-" + gone + "-0.bak", "notes.tmp-1.txt",
                                         // a temporary of "model.npz.tmp-old", not of model.npz
                                         "model.npz.tmp-old.tmp-" + gone + "-0"};
  for (const std::vector<std::string>& names : {left, kept}) {
    for (const std::string& name : names) std::ofstream(dir + "/" + name) << "x";
  }
  ASSERT_TRUE(write_file_atomically(dir + "/model.npz", [](FileSink& s) {
                return write_text(s, "new");
              }).ok());
  for (const std::string& name : left) {
    EXPECT_FALSE(std::filesystem::exists(dir + "/" + name)) << name;
  }
  for (const std::string& name : kept) {
    EXPECT_TRUE(std::filesystem::exists(dir + "/" + name)) << name;
  }
  EXPECT_EQ(read_all(dir + "/model.npz"), "new");
}

TEST(AtomicFileTest, UnwritableDirectoryNamesThePath) {
  absl::Status status = write_file_atomically("/nonexistent_dir/x.ckpt", [](FileSink& s) {
    return write_text(s, "x");
  });
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("/nonexistent_dir/x.ckpt"), std::string::npos) << status;
}

TEST(AtomicFileTest, CheckWritablePathNamesWhatIsWrong) {
  const std::string dir = ::testing::TempDir() + "/writable_check";
  mkdir(dir.c_str(), 0755);
  EXPECT_TRUE(check_writable_path(dir + "/final.npz").ok());
  EXPECT_TRUE(check_writable_path("relative_name.npz").ok());  // the working directory

  const absl::Status missing = check_writable_path(dir + "/missing/final.npz");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find(dir + "/missing does not exist"), std::string::npos)
      << missing;

  std::ofstream(dir + "/a_file") << "x";
  const absl::Status under_a_file = check_writable_path(dir + "/a_file/final.npz");
  EXPECT_NE(under_a_file.message().find(dir + "/a_file is a file, not a folder"),
            std::string::npos)
      << under_a_file;

  const absl::Status folder = check_writable_path(dir);
  EXPECT_EQ(folder.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(folder.message().find("it is a folder"), std::string::npos) << folder;

  // A device or a pipe: the rename that publishes a file would replace it (as root, /dev/null).
  const absl::Status device = check_writable_path("/dev/null");
  EXPECT_NE(device.message().find("/dev/null: it is a device, pipe or socket"), std::string::npos)
      << device;
  const std::string pipe = dir + "/pipe";
  ASSERT_EQ(mkfifo(pipe.c_str(), 0644), 0);
  EXPECT_FALSE(check_writable_path(pipe).ok());
  const absl::Status written =
      write_file_atomically(pipe, [](FileSink& sink) { return write_text(sink, "x"); });
  EXPECT_NE(written.message().find(pipe + ": it is a device, pipe or socket"), std::string::npos)
      << written;
  struct stat info;
  ASSERT_EQ(stat(pipe.c_str(), &info), 0);
  EXPECT_TRUE(S_ISFIFO(info.st_mode));

  // For a flag: no path is no output; an error starts with the flag.
  EXPECT_TRUE(check_output_flag("--csv", "").ok());
  const absl::Status flagged = check_output_flag("--csv", dir + "/missing/top5.csv");
  EXPECT_EQ(flagged.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(flagged.message().rfind("--csv: cannot write " + dir + "/missing/top5.csv", 0), 0u)
      << flagged;

  // A read-only folder; root may write anywhere, so only checked for other users.
  if (geteuid() != 0) {
    const std::string read_only = dir + "/read_only";
    mkdir(read_only.c_str(), 0555);
    const absl::Status denied = check_writable_path(read_only + "/final.npz");
    EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied) << denied;
  }
}

TEST(AtomicFileTest, OutputsMayNotOverwriteInputsOrEachOther) {
  const std::string dir = ::testing::TempDir() + "/overwrite_check";
  mkdir(dir.c_str(), 0755);
  mkdir((dir + "/sub").c_str(), 0755);
  std::ofstream(dir + "/weights.ckpt") << "x";
  ASSERT_EQ(link((dir + "/weights.ckpt").c_str(), (dir + "/hard_link.ckpt").c_str()), 0);
  ASSERT_EQ(symlink((dir + "/weights.ckpt").c_str(), (dir + "/soft_link.ckpt").c_str()), 0);
  const std::vector<FlagPath> inputs = {{"--weights", dir + "/weights.ckpt"}, {"--labels", ""}};
  const auto refused = [&](const std::string& output) {
    const absl::Status status = check_outputs_overwrite_nothing(inputs, {{"--output", output}});
    return status.code() == absl::StatusCode::kInvalidArgument &&
           status.message().find("--output: " + output + " is the file --weights reads") == 0;
  };
  EXPECT_TRUE(refused(dir + "/weights.ckpt"));
  EXPECT_TRUE(refused(dir + "/sub/../weights.ckpt"));
  EXPECT_TRUE(refused(dir + "/hard_link.ckpt"));
  EXPECT_TRUE(refused(dir + "/soft_link.ckpt"));
  EXPECT_FALSE(refused(dir + "/other.ckpt"));  // a new file
  EXPECT_TRUE(check_outputs_overwrite_nothing(inputs, {{"--output", dir + "/other.ckpt"},
                                                       {"--csv", ""}, {"--save_weights", ""}})
                  .ok());

  // Two outputs naming one new file: the second is refused, naming the first.
  const absl::Status twice = check_outputs_overwrite_nothing(
      inputs, {{"--output", dir + "/new.npz"}, {"--save_weights", dir + "/sub/../new.npz"}});
  EXPECT_EQ(twice.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(twice.message().find("--save_weights: " + dir + "/sub/../new.npz is also --output"),
            0u)
      << twice;
}

}  // namespace
}  // namespace bitgrad
