// "Training that cannot lose work" (docs/reliability.md): bit_finetune is killed with SIGKILL
// at kKills moments, every third one inside a checkpoint write (the test hook of
// io/atomic_file.h holds each finished temporary unpublished for kPauseMs, and the kill comes
// as soon as the temporary appears), the others after a random number of updates and a
// random part of one; after each kill the
// checkpoint must load and metrics.jsonl must parse, and the run is resumed. The final weights
// and the whole metrics.jsonl must equal, byte for byte, those of an uninterrupted run.
//
// KILL_TEST_KILLS, KILL_TEST_STEPS, KILL_TEST_EVAL_EVERY and KILL_TEST_SEED override the small
// CI configuration (docs/reliability.md records a larger run).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "models/checkpoint.h"
#include "tests/data/temp_files.h"
#include "tests/train/finetune_binary.h"
#include "train/metrics_log.h"

namespace bitgrad {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

int64_t setting(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  return value == nullptr ? fallback : std::atoll(value);
}

const int64_t kKills = setting("KILL_TEST_KILLS", 20);
const int64_t kSteps = setting("KILL_TEST_STEPS", 60);
const int64_t kEvalEvery = setting("KILL_TEST_EVAL_EVERY", 3);
const int64_t kSeed = setting("KILL_TEST_SEED", 1);
constexpr int kPauseMs = 100;
constexpr int kUpdateMs = 20;

// train/loss lines in out/metrics.jsonl (a resumed run drops those after its checkpoint).
int64_t updates_logged(const std::string& out) {
  const std::string text = testing::read_file(out + "/metrics.jsonl");
  int64_t count = 0;
  for (size_t at = 0; (at = text.find("train/loss", at)) != std::string::npos; ++at) ++count;
  return count;
}

int64_t checkpoint_step(const std::string& path) {
  if (!fs::exists(path)) return 0;
  absl::StatusOr<Checkpoint> loaded = load_checkpoint(path);
  return loaded.ok() ? loaded->step : 0;
}

TEST(KillTest, AKilledAndResumedRunEqualsAnUninterruptedOneByteForByte) {
  const std::string dir = testing::fresh_temp_dir("kill_test");
  const std::string dataset = dir + "/tiny.npz", whole = dir + "/whole", killed = dir + "/killed";
  testing::write_tiny_dataset(dataset);

  // Every update takes at least kUpdateMs, so that "after k updates plus a part of one" means the
  // same on a fast machine as on a slow one (the tiny model's updates take ~1 ms on a fast one,
  // and a kill would land several updates late).
  const std::string paced = "BITGRAD_TEST_MIN_UPDATE_MS=" + std::to_string(kUpdateMs);
  const Clock::time_point start = Clock::now();
  testing::ChildOptions quiet{.env = {paced}, .log_prefix = dir + "/whole"};
  testing::Finished done =
      testing::run_finetune_binary(
          testing::tiny_run_flags(dataset, whole, kSteps, kEvalEvery), quiet);
  ASSERT_EQ(done.exit_code, 0) << done.err;
  const double whole_seconds = std::chrono::duration<double>(Clock::now() - start).count();

  std::mt19937_64 random(kSeed);
  // A random moment: after 1 to 3 * kEvalEvery more updates, then up to one paced update's time
  // (not the measured one: on a loaded machine that grows with the start-up time, and kills
  // landing many updates late would end the run before the last kill).
  std::uniform_int_distribution<int64_t> updates(1, 3 * kEvalEvery);
  std::uniform_real_distribution<double> delay(0, kUpdateMs / 1000.0);
  const std::string checkpoint = killed + "/checkpoint.ckpt";
  testing::ChildOptions paused{
      .env = {"BITGRAD_TEST_PAUSE_BEFORE_PUBLISH_MS=" + std::to_string(kPauseMs), paced},
      .log_prefix = dir + "/killed"};
  const testing::ChildOptions plain{.env = {paced}, .log_prefix = dir + "/killed"};
  int64_t in_write = 0, furthest = 0;
  for (int64_t kill = 0; kill < kKills; ++kill) {
    std::vector<std::string> flags = testing::tiny_run_flags(dataset, killed, kSteps, kEvalEvery);
    if (fs::exists(checkpoint)) flags.push_back("--resume");
    const int64_t resumed_at = fs::exists(checkpoint) ? checkpoint_step(checkpoint) : 0;
    const bool in_a_write = kill % 3 == 0;
    const pid_t pid = testing::start_finetune(flags, in_a_write ? paused : plain);
    if (in_a_write) {
      while (!testing::has_checkpoint_temporary(killed) && !testing::has_exited(pid)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    } else {
      const int64_t target = checkpoint_step(checkpoint) + updates(random);
      while (updates_logged(killed) < target && !testing::has_exited(pid)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(delay(random)));
    }
    const bool writing = testing::has_checkpoint_temporary(killed);
    ::kill(pid, SIGKILL);
    const testing::Finished killed_run = testing::wait_finetune(pid, paused);
    ASSERT_EQ(killed_run.signal, SIGKILL)
        << "kill " << kill << ": the run ended first (make KILL_TEST_STEPS larger): "
        << killed_run.err;
    in_write += writing;
    if (fs::exists(checkpoint)) {
      absl::StatusOr<Checkpoint> loaded = load_checkpoint(checkpoint);
      ASSERT_TRUE(loaded.ok()) << "kill " << kill << ": " << loaded.status();
      furthest = std::max(furthest, loaded->step);
      // Its log (a file, so block-buffered) shows the evaluation of every checkpoint it wrote.
      if (loaded->step > resumed_at) {
        EXPECT_NE(killed_run.out.find(absl::StrCat("step ", loaded->step, ": test")),
                  std::string::npos)
            << "kill " << kill << ": the log lacks the step-" << loaded->step
            << " evaluation:\n" << killed_run.out;
      }
    }
    if (fs::exists(killed + "/metrics.jsonl")) {
      ASSERT_TRUE(read_metrics(killed + "/metrics.jsonl").ok()) << "kill " << kill;
    }
  }
  std::vector<std::string> flags = testing::tiny_run_flags(dataset, killed, kSteps, kEvalEvery);
  if (fs::exists(checkpoint)) flags.push_back("--resume");
  done = testing::run_finetune_binary(flags, paused);
  ASSERT_EQ(done.exit_code, 0) << done.err;

  EXPECT_EQ(testing::read_file(killed + "/metrics.jsonl"),
            testing::read_file(whole + "/metrics.jsonl"));
  EXPECT_EQ(testing::read_file(killed + "/final.npz"), testing::read_file(whole + "/final.npz"));
  EXPECT_GE(in_write, kKills / 3) << "kills inside a checkpoint write";
  EXPECT_GE(furthest, kSteps / 3) << "the kills should be spread over the run";
  std::cout << kKills << " kills (" << in_write << " in a checkpoint write), furthest checkpoint "
            << "before the last resume: step " << furthest << " of " << kSteps
            << "; the uninterrupted run took " << whole_seconds << " s\n";
}

// Ctrl-C (SIGINT) or a batch system's SIGTERM: the run finishes the update in flight,
// checkpoints it, says so and ends by the signal (a shell script's loop stops); resumed after
// each, it ends where an uninterrupted run does, byte for byte. A run that ignores SIGINT, as a
// script's background job does, goes on.
TEST(KillTest, ASignalledRunCheckpointsItsLastUpdateAndResumesExactly) {
  const std::string dir = testing::fresh_temp_dir("signal_test");
  const std::string dataset = dir + "/tiny.npz", whole = dir + "/whole", stopped = dir + "/run";
  testing::write_tiny_dataset(dataset);
  constexpr int64_t kRunSteps = 12, kRunEvalEvery = 6;
  const std::string paced = "BITGRAD_TEST_MIN_UPDATE_MS=" + std::to_string(kUpdateMs);
  const testing::ChildOptions options{.env = {paced}, .log_prefix = dir + "/log"};
  testing::Finished done = testing::run_finetune_binary(
      testing::tiny_run_flags(dataset, whole, kRunSteps, kRunEvalEvery), options);
  ASSERT_EQ(done.exit_code, 0) << done.err;

  int64_t stopped_at = 0;
  for (const int signal : {SIGTERM, SIGINT}) {
    std::vector<std::string> flags =
        testing::tiny_run_flags(dataset, stopped, kRunSteps, kRunEvalEvery);
    if (stopped_at > 0) flags.push_back("--resume");
    const pid_t pid = testing::start_finetune(flags, options);
    while (updates_logged(stopped) < stopped_at + 4 && !testing::has_exited(pid)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ::kill(pid, signal);
    const testing::Finished run = testing::wait_finetune(pid, options);
    ASSERT_EQ(run.signal, signal) << run.err;
    stopped_at = checkpoint_step(stopped + "/checkpoint.ckpt");
    EXPECT_EQ(stopped_at, updates_logged(stopped)) << "the checkpoint is the last update's";
    EXPECT_NE(run.err.find(absl::StrCat("stopped by ", signal == SIGINT ? "SIGINT" : "SIGTERM")),
              std::string::npos)
        << run.err;
    EXPECT_NE(run.err.find(absl::StrCat("(step ", stopped_at, ") is intact, --resume continues")),
              std::string::npos)
        << run.err;
  }
  std::vector<std::string> flags =
      testing::tiny_run_flags(dataset, stopped, kRunSteps, kRunEvalEvery);
  flags.push_back("--resume");
  testing::ChildOptions background = options;
  background.ignore_sigint = true;
  const pid_t pid = testing::start_finetune(flags, background);
  while (updates_logged(stopped) < stopped_at + 1 && !testing::has_exited(pid)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ::kill(pid, SIGINT);
  done = testing::wait_finetune(pid, background);
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(testing::read_file(stopped + "/metrics.jsonl"),
            testing::read_file(whole + "/metrics.jsonl"));
  EXPECT_EQ(testing::read_file(stopped + "/final.npz"), testing::read_file(whole + "/final.npz"));
}

}  // namespace
}  // namespace bitgrad
