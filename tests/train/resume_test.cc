// issue 13: "A run killed with SIGKILL and resumed reproduces the uninterrupted run's losses
// exactly." A child process runs the loop and is killed with SIGKILL as soon as it has passed
// a checkpoint; a second child resumes it; the losses in its metrics.jsonl must equal, bit for
// bit, those of an uninterrupted run. Everything random is on: shuffling, BiT augmentation,
// mixup, and two micro-batches per update.
#include <omp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/random.h"
#include "gtest/gtest.h"
#include "models/checkpoint.h"
#include "ops/math_mode.h"
#include "train/finetune.h"
#include "tests/train/finetune_binary.h"
#include "train/model_init.h"
#include "train/run.h"
#include "train/stop_signals.h"

namespace bitgrad {
namespace {

constexpr int64_t kSteps = 40, kEvalEvery = 4;

// Every update takes at least 20 ms (train/finetune.cc's test hook, set before any run reads it),
// so that the kill below, after update 2 * kEvalEvery + 1, still comes long before the end when
// a loaded machine lets the test fall behind the run by tens of milliseconds.
const bool kPacedUpdates = setenv("BITGRAD_TEST_MIN_UPDATE_MS", "20", /*overwrite=*/1) == 0;

// 24 random 12x12 RGB images of 3 classes; the test split is the first 6.
Dataset tiny_data() {
  Generator generator(5);
  ImageSet set;
  set.source = "tiny";
  set.pixels = zeros({24, 12, 12, 3}, DType::kUInt8);
  uint8_t* pixels = set.pixels.mutable_data<uint8_t>();
  for (int64_t i = 0; i < set.pixels.numel(); ++i) pixels[i] = generator.randint(256);
  for (int64_t i = 0; i < 24; ++i) set.labels.push_back(i % 3);
  set.class_names = {"a", "b", "c"};
  std::vector<int64_t> first(6);
  for (int64_t i = 0; i < 6; ++i) first[i] = i;
  return {set, set.subset(first)};
}

RunConfig tiny_run(const std::string& out, bool resume) {
  RunConfig c;
  c.set_weights("random");
  c.set_model("R50x1");
  c.set_base_width(4);
  c.set_num_groups(2);
  c.set_dataset("npz:unused");  // the test passes its data directly
  c.set_batch(8);
  c.set_batch_split(2);
  c.set_steps(kSteps);
  c.set_base_lr(0.1);
  c.set_schedule("hyperrule");
  c.set_mixup_alpha(0.2);
  c.set_augment("bit");
  c.set_resolution(16);
  c.set_shuffle(true);
  c.set_seed(3);
  c.set_workers(2);
  c.set_eval_every(kEvalEvery);
  c.set_out(out);
  c.set_resume(resume);
  return c;
}

// Runs the loop in a child process, under bf16 autocast when asked (ops/math_mode.h); returns
// its pid. The child exits 0 on success.
pid_t start_run(const std::string& out, bool resume, bool bf16 = false) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  set_bf16_autocast_enabled(bf16);
  const Dataset data = tiny_data();
  const RunConfig config = tiny_run(out, resume);
  absl::StatusOr<LoadedBitModel> model = initial_model(config, {"0", "1", "2"});
  std::ostringstream log;  // quiet
  const bool ok = model.ok() && finetune(*model->model, data, config, log).ok();
  std::_Exit(ok ? 0 : 1);
}

int wait_for(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

// Updates logged so far, counting only whole lines: the run may be writing one right now.
size_t updates_logged(const std::string& out) {
  std::ifstream in(out + "/metrics.jsonl");
  std::stringstream text;
  text << in.rdbuf();
  size_t count = 0, start = 0;
  for (size_t end; (end = text.str().find('\n', start)) != std::string::npos; start = end + 1) {
    count += text.str().compare(start, 1, "{") == 0 &&
             text.str().substr(start, end - start).find("train/loss") != std::string::npos;
  }
  return count;
}

// The uninterrupted run, in `dir`/whole, and the killed and resumed one, in `dir`/killed.
void expect_resumed_run_repeats_the_losses(const std::string& dir, bool bf16) {
  std::filesystem::remove_all(dir);
  const std::string whole = dir + "/whole", killed = dir + "/killed";

  ASSERT_EQ(wait_for(start_run(whole, false, bf16)), 0);
  const std::vector<double> expected = testing::train_losses(whole);
  ASSERT_EQ(expected.size(), static_cast<size_t>(kSteps));

  // Kill the run once it is past its second checkpoint (the line of step 2 * kEvalEvery + 1
  // comes after the checkpoint of step 2 * kEvalEvery was written).
  const pid_t pid = start_run(killed, false, bf16);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (updates_logged(killed) <= 2 * kEvalEvery && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  const int status = wait_for(pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the run ended before it could be killed; make kSteps larger";
  const size_t done_when_killed = testing::train_losses(killed).size();
  EXPECT_LT(done_when_killed, static_cast<size_t>(kSteps));

  ASSERT_EQ(wait_for(start_run(killed, true, bf16)), 0);
  const std::vector<double> resumed = testing::train_losses(killed);
  ASSERT_EQ(resumed.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(resumed[i], expected[i]) << "the loss of update " << i + 1 << " (killed after "
                                       << done_when_killed << ")";
  }
  // Both checkpoints name the dataset's classes and the input size, for bit_predict.
  for (const std::string& run : {whole, killed}) {
    absl::StatusOr<Checkpoint> saved = load_checkpoint(run + "/checkpoint.ckpt");
    ASSERT_TRUE(saved.ok()) << saved.status();
    EXPECT_EQ(saved->class_names, std::vector<std::string>({"a", "b", "c"})) << run;
    EXPECT_EQ(saved->input_resolution, 16) << run;  // --resolution
  }
}

TEST(ResumeTest, AResumedRunRepeatsTheUninterruptedLossesBitForBit) {
  expect_resumed_run_repeats_the_losses(::testing::TempDir() + "/resume_test", false);
}

// The bf16 convolutions (ops/cpu/conv/bf16.h) compute the same bits every run too; the run is
// a bf16 one (its losses are not the float32 run's).
TEST(ResumeTest, SoDoesARunUnderBf16Autocast) {
  if (!bf16_autocast_problem(DeviceType::kCPU).empty()) GTEST_SKIP() << "no bf16 on this CPU";
  const std::string dir = ::testing::TempDir() + "/resume_test_bf16";
  expect_resumed_run_repeats_the_losses(dir, true);
  if (HasFatalFailure()) return;
  ASSERT_EQ(wait_for(start_run(dir + "/float32", false)), 0);
  EXPECT_NE(testing::train_losses(dir + "/float32"), testing::train_losses(dir + "/whole"));
}

TEST(ResumeTest, ResumingWithOtherSettingsIsRefused) {
  const std::string out = ::testing::TempDir() + "/resume_other";
  std::filesystem::remove_all(out);
  ASSERT_EQ(wait_for(start_run(out, false)), 0);
  const Dataset data = tiny_data();
  RunConfig config = tiny_run(out, true);
  config.set_base_lr(0.2);
  absl::StatusOr<LoadedBitModel> model = initial_model(config, {"0", "1", "2"});
  ASSERT_TRUE(model.ok());
  std::ostringstream log;
  absl::StatusOr<FinetuneResult> result = finetune(*model->model, data, config, log);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("other settings"), std::string::npos)
      << result.status();
  // The checkpoint's loss is empty, which means softmax: naming it resumes, sigmoid does not.
  config.set_base_lr(0.1);
  config.set_loss("sigmoid");
  result = finetune(*model->model, data, config, log);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("--loss=\"softmax\" there, \"sigmoid\" here"),
            std::string::npos)
      << result.status();
  config.set_loss("softmax");
  result = finetune(*model->model, data, config, log);
  EXPECT_TRUE(result.ok()) << result.status();
}

// Where the run lives is not what it computes: a run directory moved after the kill resumes
// from its new path, and so does one that names another --save_weights file.
TEST(ResumeTest, AMovedRunDirectoryResumes) {
  const std::string out = ::testing::TempDir() + "/resume_moved", moved = out + "_elsewhere";
  std::filesystem::remove_all(out);
  std::filesystem::remove_all(moved);
  // In this process: a child forked after the tests before had run threads here could hang.
  const auto run = [](const RunConfig& config) {
    absl::StatusOr<LoadedBitModel> model = initial_model(config, {"0", "1", "2"});
    std::ostringstream log;
    return model.ok() ? finetune(*model->model, tiny_data(), config, log).status()
                      : model.status();
  };
  ASSERT_TRUE(run(tiny_run(out, false)).ok());
  std::filesystem::rename(out, moved);
  RunConfig config = tiny_run(moved, true);
  config.set_save_weights(moved + "/final.npz");
  const absl::Status resumed = run(config);
  EXPECT_TRUE(resumed.ok()) << resumed;
}

// A resumed run notes what makes its losses leave an uninterrupted run's: another thread count
// (sums split among threads round differently), other training images.
TEST(ResumeTest, ANewThreadCountOrOtherTrainingImagesAreNoted) {
  const std::string out = ::testing::TempDir() + "/resume_noted";
  std::filesystem::remove_all(out);
  const auto run = [](const RunConfig& config, const Dataset& data, std::string& log) {
    absl::StatusOr<LoadedBitModel> model = initial_model(config, {"0", "1", "2"});
    std::ostringstream text;
    const absl::Status status =
        model.ok() ? finetune(*model->model, data, config, text).status() : model.status();
    log = text.str();
    return status;
  };
  std::string log;
  ASSERT_TRUE(run(tiny_run(out, false), tiny_data(), log).ok()) << log;
  ASSERT_TRUE(run(tiny_run(out, true), tiny_data(), log).ok()) << log;
  EXPECT_EQ(log.find("note: --resume"), std::string::npos) << log;

  // As if the checkpoint's run had had one thread more (starting threads here would give
  // ThreadSanitizer, which cannot see into libgomp, false reports).
  const std::string checkpoint = out + "/checkpoint.ckpt";
  absl::StatusOr<Checkpoint> saved = load_checkpoint(checkpoint);
  ASSERT_TRUE(saved.ok()) << saved.status();
  const int threads = omp_get_max_threads();
  ASSERT_EQ(saved->metadata["threads"], absl::StrCat(threads));
  Checkpoint other_threads = *saved;
  other_threads.metadata["threads"] = absl::StrCat(threads + 1);
  ASSERT_TRUE(save_checkpoint(checkpoint, other_threads).ok());
  ASSERT_TRUE(run(tiny_run(out, true), tiny_data(), log).ok()) << log;
  EXPECT_NE(log.find(absl::StrCat("note: --resume: this run computes with ", threads,
                                  threads == 1 ? " thread" : " threads",
                                  ", the checkpoint's run used ", threads + 1)),
            std::string::npos)
      << log;
  ASSERT_TRUE(save_checkpoint(checkpoint, *saved).ok());

  // A checkpoint of the code that hashed pixels byte by byte: its fingerprint is not compared.
  ASSERT_EQ(saved->metadata.count("train_fingerprint_v2"), 1u);
  Checkpoint older = *saved;
  older.metadata.erase("train_fingerprint_v2");
  older.metadata["train_fingerprint"] = "deadbeef";
  ASSERT_TRUE(save_checkpoint(checkpoint, older).ok());
  ASSERT_TRUE(run(tiny_run(out, true), tiny_data(), log).ok()) << log;
  EXPECT_EQ(log.find("note: --resume"), std::string::npos) << log;
  ASSERT_TRUE(save_checkpoint(checkpoint, *saved).ok());

  Dataset relabelled = tiny_data();
  relabelled.train.labels[7] = (relabelled.train.labels[7] + 1) % 3;
  ASSERT_TRUE(run(tiny_run(out, true), relabelled, log).ok()) << log;
  EXPECT_NE(log.find("note: --resume: the training set's images or labels are not the "
                     "checkpoint's run's (the same count, 24)"),
            std::string::npos)
      << log;
  Dataset smaller = tiny_data();
  std::vector<int64_t> all_but_last(23);
  for (int64_t i = 0; i < 23; ++i) all_but_last[i] = i;
  smaller.train = smaller.train.subset(all_but_last);
  ASSERT_TRUE(run(tiny_run(out, true), smaller, log).ok()) << log;
  EXPECT_NE(log.find("note: --resume: the training set has 23 images, the checkpoint's run had "
                     "24"),
            std::string::npos)
      << log;
}

// A resumed run's model is its checkpoint's: the --weights file it started from may have moved
// (or gone) since, and is neither read nor compared.
TEST(ResumeTest, ARunResumesAfterTheWeightsItStartedFromMoved) {
  const std::string dir = ::testing::TempDir() + "/resume_weights_moved";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  RunConfig upstream = testing::tiny_golden_run();
  upstream.set_save_weights(dir + "/upstream.npz");
  std::ostringstream log;
  ASSERT_TRUE(run_finetune(upstream, log).ok()) << log.str();

  RunConfig run = testing::tiny_golden_run();
  run.set_weights(dir + "/upstream.npz");
  run.set_steps(2);
  run.set_out(dir + "/run");
  ASSERT_TRUE(run_finetune(run, log).ok()) << log.str();
  std::filesystem::rename(dir + "/upstream.npz", dir + "/moved.npz");
  for (const std::string& weights : {dir + "/upstream.npz", dir + "/moved.npz"}) {
    run.set_weights(weights);
    run.set_resume(true);
    absl::StatusOr<FinetuneResult> resumed = run_finetune(run, log);
    ASSERT_TRUE(resumed.ok()) << resumed.status();
    EXPECT_EQ(resumed->steps, 2);
  }
}

// A run stopped by SIGTERM (here, in this process) and resumed: the resumed run's result says
// where it resumed, and its speed is that of the updates it made, not of the whole run.
TEST(ResumeTest, AResumedRunsSpeedIsOfTheUpdatesItMade) {
  const std::string out = ::testing::TempDir() + "/resume_speed";
  std::filesystem::remove_all(out);
  const auto run = [](const RunConfig& config) -> absl::StatusOr<FinetuneResult> {
    absl::StatusOr<LoadedBitModel> model = initial_model(config, {"0", "1", "2"});
    if (!model.ok()) return model.status();
    std::ostringstream log;  // quiet
    return finetune(*model->model, tiny_data(), config, log);
  };
  // A SIGTERM that came after the run (a starved thread) must not end the test process.
  struct sigaction ignore_late = {}, before = {};
  ignore_late.sa_handler = [](int) {};
  sigemptyset(&ignore_late.sa_mask);
  sigaction(SIGTERM, &ignore_late, &before);
  std::atomic<bool> finished{false};
  std::thread terminate([&] {
    while (updates_logged(out) < 2 && !finished) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!finished) kill(getpid(), SIGTERM);
  });
  const absl::StatusOr<FinetuneResult> stopped = run(tiny_run(out, false));
  finished = true;
  terminate.join();
  sigaction(SIGTERM, &before, nullptr);
  ASSERT_EQ(stopping_signal(stopped.status()), SIGTERM) << stopped.status();
  absl::StatusOr<Checkpoint> checkpoint = load_checkpoint(out + "/checkpoint.ckpt");
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  const int64_t stopped_at = checkpoint->step;
  ASSERT_GT(stopped_at, 0);
  ASSERT_LT(stopped_at, kSteps);

  const absl::StatusOr<FinetuneResult> resumed = run(tiny_run(out, true));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->steps, kSteps);
  EXPECT_EQ(resumed->resumed_at, stopped_at);
  // Every update takes 20 ms at least (kPacedUpdates), and all of them count.
  EXPECT_GE(resumed->train_seconds, 0.020 * static_cast<double>(kSteps - stopped_at));
  const double images_made = static_cast<double>((kSteps - stopped_at) * 8);  // --batch=8
  EXPECT_NEAR(resumed->images_per_second * resumed->train_seconds, images_made,
              1e-9 * images_made);
}

}  // namespace
}  // namespace bitgrad
