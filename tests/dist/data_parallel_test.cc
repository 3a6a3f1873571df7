// Data parallelism end to end (docs/scale_out.md): examples/bit_finetune under `mpirun -np 2`
// against one process, on the tiny run of tests/train/finetune_binary.h (8 images per update,
// mixup, augmentation, shuffling). N processes must make the updates of one process with the
// same micro-batches: equal losses up to float summation order (1e-5 relative, the bar).
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "io/npz.h"
#include "models/checkpoint.h"
#include "tests/train/finetune_binary.h"

namespace bitgrad {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string test_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/data_parallel_" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// mpirun -np N, allowed to run as root (CI containers) and on fewer cores than processes.
// Under AddressSanitizer (.ci/run) leak checking is off in the MPI processes: Open MPI leaves
// allocations of plugins it has already unloaded at MPI_Finalize, which no suppression can name
// (our own code's leaks are caught by the one-process runs of tests/train).
// Open MPI names its shared-memory files after the host and mpirun's pid, and Bazel's sandboxes
// run concurrent tests under the same pids: with the default /dev/shm, two jobs would share files
// and crash (seen as segfaults in the vader transport). Each test keeps them in its own TempDir.
testing::ChildOptions mpi(int processes, const std::string& log_prefix) {
  const char* mpirun = std::getenv("MPIRUN");
  const std::string own_dir = ::testing::TempDir();
  return testing::ChildOptions{
      .env = {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
              "ASAN_OPTIONS=detect_leaks=0", "OMPI_MCA_btl_vader_backing_directory=" + own_dir,
              "OMPI_MCA_orte_tmpdir_base=" + own_dir},
      .log_prefix = log_prefix,
      .launcher = {mpirun != nullptr ? mpirun : "mpirun", "-np", std::to_string(processes),
                   "--oversubscribe"}};
}

// Updates logged so far by a running job (none before its log exists).
size_t updates_logged(const std::string& out) {
  return fs::exists(out + "/metrics.jsonl") ? testing::train_losses(out).size() : 0;
}

// Each class's test examples, by name, from a run's "top-1 by class" lines ("  name  x%  of N").
std::map<std::string, int64_t> class_examples(const std::string& out) {
  std::map<std::string, int64_t> examples;
  const size_t report = out.find("top-1 by class");
  if (report == std::string::npos) return examples;
  std::vector<std::string> lines = absl::StrSplit(out.substr(report), '\n');
  for (size_t i = 1; i < lines.size() && absl::StartsWith(lines[i], "  "); ++i) {
    std::vector<std::string> words = absl::StrSplit(lines[i], ' ', absl::SkipEmpty());
    examples[words.front()] = std::stoll(words.back());
  }
  return examples;
}

void expect_same_losses(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-5 * std::abs(want[i])) << "update " << i + 1;
  }
}

std::vector<std::string> with(std::vector<std::string> flags, const std::string& flag) {
  flags.push_back(flag);
  return flags;
}

// Waits up to `seconds` for `pid` to end; kills it (and fails) when it does not.
testing::Finished wait_at_most(pid_t pid, double seconds, const testing::ChildOptions& options) {
  const Clock::time_point start = Clock::now();
  while (!testing::has_exited(pid) &&
         std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!testing::has_exited(pid)) {
    ADD_FAILURE() << "the job still runs after " << seconds << " s: it hangs";
    ::kill(pid, SIGKILL);
  }
  return testing::wait_finetune(pid, options);
}

// The pid of the process of `rank` among mpirun's children (its environment says which).
pid_t find_rank(pid_t mpirun, int rank) {
  const std::string wanted = absl::StrCat("OMPI_COMM_WORLD_RANK=", rank);
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = testing::read_file(entry.path().string() + "/stat");
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    int parent = 0;
    if (std::sscanf(stat.c_str() + close + 2, "%*c %d", &parent) != 1 || parent != mpirun) {
      continue;
    }
    const std::string environ = testing::read_file(entry.path().string() + "/environ");
    for (absl::string_view variable : absl::StrSplit(environ, '\0')) {
      if (variable == wanted) return std::stoi(name);
    }
  }
  return -1;
}

class DataParallelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    dataset_ = dir_ + "/tiny.npz";
    testing::write_tiny_dataset(dataset_);
  }
  std::vector<std::string> flags(const std::string& out, int64_t steps, int64_t eval_every) {
    return testing::tiny_run_flags(dataset_, dir_ + "/" + out, steps, eval_every);
  }
  std::string dir_, dataset_;
};

TEST_F(DataParallelTest, TwoProcessesMakeTheUpdatesOfOne) {
  // The tiny run has --batch=8 --batch_split=2: one process does 2 micro-batches of 4 per
  // update, two processes one each; with --batch_split=4, two each.
  // At the tiny run's --base_lr=0.1 this random width-4 model is chaotic: a rounding difference
  // (gradients summed in another order, oneDNN's AVX-512 convs on 1 thread or 2) flips a ReLU or
  // a max-pool winner and the losses part by 2e-3 within 5 updates. At 0.01 they agree to 3e-8,
  // and a wrong data split (a mixup draw not skipped) still parts them by far more than 1e-5.
  for (const char* split : {"--batch_split=2", "--batch_split=4"}) {
    SCOPED_TRACE(split);
    const auto run_flags = [&](const std::string& out) {
      // --eval_batch=2: the 6 test images in 3 batches, shared by the processes.
      return with(with(with(flags(out, 5, 5), split), "--base_lr=0.01"), "--eval_batch=2");
    };
    const testing::ChildOptions one{.log_prefix = dir_ + "/one"};
    testing::Finished single = testing::run_finetune_binary(run_flags("one"), one);
    ASSERT_EQ(single.exit_code, 0) << single.err;
    const testing::ChildOptions two = mpi(2, dir_ + "/two");
    testing::Finished pair = testing::run_finetune_binary(run_flags("two"), two);
    ASSERT_EQ(pair.exit_code, 0) << pair.out << pair.err;
    EXPECT_NE(pair.out.find("data parallel: 2 processes"), std::string::npos) << pair.out;
    EXPECT_NE(pair.out.find("all-reduce: "), std::string::npos) << pair.out;
    // The final evaluation's counts by class, summed over the two processes' halves.
    EXPECT_FALSE(class_examples(single.out).empty()) << single.out;
    EXPECT_EQ(class_examples(pair.out), class_examples(single.out)) << pair.out;
    const std::vector<double> want = testing::train_losses(dir_ + "/one");
    ASSERT_EQ(want.size(), 5u);
    expect_same_losses(testing::train_losses(dir_ + "/two"), want);

    // The final weights, written by rank 0 alone.
    absl::StatusOr<NamedArrays> a = read_npz(dir_ + "/one/final.npz");
    absl::StatusOr<NamedArrays> b = read_npz(dir_ + "/two/final.npz");
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->size(), b->size());
    for (size_t i = 0; i < a->size(); ++i) {
      const std::vector<float> x = (*a)[i].second.to_vector<float>();
      const std::vector<float> y = (*b)[i].second.to_vector<float>();
      ASSERT_EQ(x.size(), y.size());
      for (size_t j = 0; j < x.size(); ++j) {
        ASSERT_NEAR(x[j], y[j], 1e-4 + 1e-4 * std::abs(x[j])) << (*a)[i].first << "[" << j << "]";
      }
    }
    fs::remove_all(dir_ + "/one");
    fs::remove_all(dir_ + "/two");
  }
}

TEST_F(DataParallelTest, ARunResumesWithAnotherNumberOfProcesses) {
  const testing::ChildOptions whole{.log_prefix = dir_ + "/whole"};
  testing::Finished done = testing::run_finetune_binary(flags("whole", 6, 3), whole);
  ASSERT_EQ(done.exit_code, 0) << done.err;

  // One process, killed while its step-6 checkpoint is held unpublished: step 3's remains.
  const testing::ChildOptions paused{.env = {"BITGRAD_TEST_PAUSE_BEFORE_PUBLISH_MS=2000"},
                                     .log_prefix = dir_ + "/first"};
  const pid_t first = testing::start_finetune(flags("run", 6, 3), paused);
  const std::string run = dir_ + "/run";
  const Clock::time_point start = Clock::now();
  while (!testing::has_exited(first) &&
         !(updates_logged(run) == 6 && testing::has_checkpoint_temporary(run)) &&
         Clock::now() - start < std::chrono::seconds(120)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(first, SIGKILL);
  ASSERT_EQ(testing::wait_finetune(first, paused).signal, SIGKILL);

  // Two processes continue from step 3.
  const testing::ChildOptions two = mpi(2, dir_ + "/resumed");
  done = testing::run_finetune_binary(with(flags("run", 6, 3), "--resume"), two);
  ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
  EXPECT_NE(done.out.find("at step 3"), std::string::npos) << done.out;
  expect_same_losses(testing::train_losses(run), testing::train_losses(dir_ + "/whole"));
}

TEST_F(DataParallelTest, AKilledRankTakesTheJobDownNamingIt) {
  const testing::ChildOptions two = mpi(2, dir_ + "/job");
  const pid_t job = testing::start_finetune(flags("job", 100000, 0), two);
  const Clock::time_point start = Clock::now();
  while (!testing::has_exited(job) && updates_logged(dir_ + "/job") < 2 &&
         Clock::now() - start < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const pid_t rank1 = find_rank(job, 1);
  ASSERT_GT(rank1, 0) << "no rank 1 among mpirun's children";
  ::kill(rank1, SIGKILL);
  const testing::Finished finished = wait_at_most(job, 60, two);
  EXPECT_NE(finished.exit_code, 0);
  EXPECT_NE((finished.out + finished.err).find("rank 1"), std::string::npos)
      << finished.out << finished.err;
}

TEST_F(DataParallelTest, AFailingRankStopsTheOthersWithItsMessage) {
  // Only rank 0 opens --out, so only it fails; rank 1 would wait for it in a collective.
  std::ofstream(dir_ + "/a_file") << "not a directory";
  const testing::ChildOptions two = mpi(2, dir_ + "/failed");
  const pid_t job = testing::start_finetune(
      with(with(flags("unused", 100000, 0), "--out=" + dir_ + "/a_file/run"), "--save_weights="),
      two);
  const testing::Finished finished = wait_at_most(job, 60, two);
  EXPECT_NE(finished.exit_code, 0);
  EXPECT_NE(finished.err.find("error: rank 0 of 2: --out"), std::string::npos) << finished.err;
  EXPECT_NE(finished.err.find("a_file/run"), std::string::npos) << finished.err;
}

// A test image that process 1 cannot decode stops the job in the evaluation with the updates
// kept: every process returns process 1's error after rank 0 has checkpointed (before, rank 1's
// abort killed rank 0 waiting in the evaluation's all-reduce, and the updates were lost).
TEST_F(DataParallelTest, ATestImageOnlyRank1ReadsKeepsTheUpdatesWhenItFails) {
  const std::string data = dir_ + "/images";
  for (const char* image : {"train/a/1.png", "train/a/2.png", "train/b/1.png", "train/b/2.png",
                            "test/a/1.png"}) {
    fs::create_directories(fs::path(data + "/" + image).parent_path());
    fs::copy_file("tests/data/testdata/rgb8.png", data + "/" + image);
  }
  fs::create_directories(data + "/test/b");
  const std::string jpeg = testing::read_file("tests/data/testdata/rgb.jpg");
  std::ofstream(data + "/test/b/cut.jpg", std::ios::binary) << jpeg.substr(0, 300);
  // Test batches of one: batch 0 (test/a/1.png) is rank 0's, batch 1 (the cut JPEG) rank 1's.
  std::vector<std::string> run = flags("cut", 3, 2);
  for (const std::string& flag : std::vector<std::string>{
           "--dataset=folder:" + data, "--batch=2", "--batch_split=2", "--eval_batch=1"}) {
    run = with(run, flag);
  }
  const testing::ChildOptions two = mpi(2, dir_ + "/cut");
  const testing::Finished finished = wait_at_most(testing::start_finetune(run, two), 60, two);
  EXPECT_NE(finished.exit_code, 0);
  EXPECT_NE(finished.err.find("test/b/cut.jpg: truncated JPEG"), std::string::npos)
      << finished.err;
  // Every process's line names the file and the checkpoint, so the first abort's says both.
  EXPECT_NE(finished.err.find("checkpoint.ckpt (step 2) is intact, --resume continues"),
            std::string::npos)
      << finished.err;
  absl::StatusOr<Checkpoint> checkpoint = load_checkpoint(dir_ + "/cut/checkpoint.ckpt");
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status() << "\n" << finished.err;
  EXPECT_EQ(checkpoint->step, 2);
}

// Processes started with other flags (mpirun's "A : B" form) are refused before any collective:
// another --steps left rank 0 waiting in an all-reduce forever. The message names the flags
// that differ: --resume alone, not also the --out both were given (which the comparison leaves
// out without --resume).
TEST_F(DataParallelTest, ProcessesStartedWithOtherSettingsAreRefused) {
  const struct {
    std::string rank_1_flag, expected;
  } cases[] = {{"--steps=3", "(--steps=6 on process 0, 3 on this one)"},
               {"--resume", "(--resume=false on process 0, true on this one)"}};
  for (const auto& c : cases) {
    const std::string out = "mismatch" + c.rank_1_flag.substr(2, 5);
    testing::ChildOptions two = mpi(1, dir_ + "/" + out);
    const std::vector<std::string> rank_0 = flags(out, 6, 0);
    two.launcher.push_back("examples/bit_finetune");
    two.launcher.insert(two.launcher.end(), rank_0.begin(), rank_0.end());
    for (const char* part : {":", "-np", "1"}) two.launcher.push_back(part);
    const pid_t job = testing::start_finetune(with(flags(out, 6, 0), c.rank_1_flag), two);
    const testing::Finished finished = wait_at_most(job, 60, two);
    EXPECT_NE(finished.exit_code, 0);
    EXPECT_NE(finished.err.find("process 1 of 2 was started with other settings than process 0 " +
                                c.expected),
              std::string::npos)
        << finished.err;
  }
}

}  // namespace
}  // namespace bitgrad
