#include "train/metrics_log.h"


#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/data/temp_files.h"

namespace bitgrad {
namespace {

std::string fresh_path(const std::string& name) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::filesystem::remove(path);
  return path;
}

TEST(MetricsLogTest, ValuesReadBackBitForBit) {
  const std::string path = fresh_path("bits.jsonl");
  const double third = 1.0 / 3.0, tiny = 1e-300;
  {
    absl::StatusOr<MetricsLog> log = MetricsLog::open(path);
    ASSERT_TRUE(log.ok()) << log.status();
    ASSERT_TRUE(log->log(1, {{"train/loss", third}, {"train/lr", 0.0}}).ok());
    ASSERT_TRUE(log->log(2, {{"test/top1", tiny}}).ok());
  }
  absl::StatusOr<std::vector<std::pair<int64_t, Scalars>>> lines = read_metrics(path);
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_EQ((*lines)[0].first, 1);
  EXPECT_EQ((*lines)[0].second, (Scalars{{"train/loss", third}, {"train/lr", 0.0}}));
  EXPECT_EQ((*lines)[1].second, (Scalars{{"test/top1", tiny}}));
}

// The same scalars go to TensorBoard events beside the JSON lines (tests/train/tensorboard_test
// checks the events format itself).
TEST(MetricsLogTest, ScalarsAlsoGoToTensorBoardEventsInTheRunDirectory) {
  const std::string run_dir = ::testing::TempDir() + "/metrics_run";
  std::filesystem::remove_all(run_dir);
  std::filesystem::create_directories(run_dir);
  {
    absl::StatusOr<MetricsLog> log = MetricsLog::open(run_dir + "/metrics.jsonl");
    ASSERT_TRUE(log.ok()) << log.status();
    ASSERT_TRUE(log->log(7, {{"train/loss_for_tensorboard", 0.5}}).ok());
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(run_dir + "/tensorboard")) {
    files.push_back(entry.path());
  }
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename().string().rfind("events.out.tfevents.", 0), 0u);
  std::ifstream in(files[0], std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  EXPECT_NE(bytes.str().find("train/loss_for_tensorboard"), std::string::npos);
}

TEST(MetricsLogTest, ResumingDropsTheStepsAfterTheCheckpoint) {
  const std::string path = fresh_path("resume.jsonl");
  {
    absl::StatusOr<MetricsLog> log = MetricsLog::open(path);
    ASSERT_TRUE(log.ok());
    for (int64_t step = 1; step <= 5; ++step) ASSERT_TRUE(log->log(step, {{"x", 1.0}}).ok());
  }
  {
    absl::StatusOr<MetricsLog> log = MetricsLog::open(path, /*keep_up_to_step=*/3);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(log->log(4, {{"x", 2.0}}).ok());
  }
  absl::StatusOr<std::vector<std::pair<int64_t, Scalars>>> lines = read_metrics(path);
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 4u);
  EXPECT_EQ((*lines)[2].first, 3);
  EXPECT_EQ((*lines)[3].first, 4);
  EXPECT_EQ((*lines)[3].second[0].second, 2.0);
}

void append(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::app) << bytes;
}

// What a crash of the machine can leave (the checkpoint is on the disk, the file's last bytes
// not): a line cut short, zeros, a line out of step order, lines lost. A resumed run keeps the
// whole lines in step order and says what it dropped and what is missing.
TEST(MetricsLogTest, ResumingMendsWhatACrashOfTheMachineLeft) {
  const std::string path = fresh_path("crash.jsonl");
  {
    absl::StatusOr<MetricsLog> log = MetricsLog::open(path);
    ASSERT_TRUE(log.ok());
    for (int64_t step = 1; step <= 4; ++step) ASSERT_TRUE(log->log(step, {{"x", 1.0}}).ok());
    ASSERT_TRUE(log->sync().ok());
  }
  append(path, "{\"step\": 2, \"x\": 9}\n");            // out of step order
  append(path, std::string(8, '\0') + "\n");            // zeros
  append(path, "{\"step\": 5, \"x\": 0.12");              // cut short
  absl::StatusOr<MetricsLog> log = MetricsLog::open(path, /*keep_up_to_step=*/6);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(log->notes(), (std::vector<std::string>{
                              path + ": dropped 3 lines cut short, unreadable or out of step order",
                              path + ": its lines end at step 4, before the checkpoint's step 6; "
                                     "steps 5-6 are not in it"}));
  ASSERT_TRUE(log->log(7, {{"x", 2.0}}).ok());
  absl::StatusOr<std::vector<std::pair<int64_t, Scalars>>> lines = read_metrics(path);
  ASSERT_TRUE(lines.ok()) << lines.status();
  std::vector<int64_t> steps;
  for (const auto& line : *lines) steps.push_back(line.first);
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 7}));

  // A whole file up to the checkpoint needs no note; lines after it, even one cut short, go
  // without one: they are redone.
  append(path, "{\"step\": 8, \"x\": 0.5");
  absl::StatusOr<MetricsLog> again = MetricsLog::open(path, /*keep_up_to_step=*/4);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->notes().empty()) << again->notes()[0];
  const std::string missing = fresh_path("missing.jsonl");
  absl::StatusOr<MetricsLog> none = MetricsLog::open(missing, /*keep_up_to_step=*/3);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->notes(),
            std::vector<std::string>{missing + ": missing; steps 1-3 are not in it"});
}

// A step's training line and its evaluation line share the step; resuming at it keeps both.
TEST(MetricsLogTest, ResumingKeepsEveryLineOfTheCheckpointsStep) {
  const std::string path = fresh_path("same_step.jsonl");
  {
    absl::StatusOr<MetricsLog> log = MetricsLog::open(path);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(log->log(1, {{"train/loss", 1.0}}).ok());
    ASSERT_TRUE(log->log(2, {{"train/loss", 0.5}}).ok());
    ASSERT_TRUE(log->log(2, {{"test/top1", 0.25}}).ok());
  }
  absl::StatusOr<MetricsLog> log = MetricsLog::open(path, /*keep_up_to_step=*/2);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_TRUE(log->notes().empty()) << log->notes()[0];
  absl::StatusOr<std::vector<std::pair<int64_t, Scalars>>> lines = read_metrics(path);
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_EQ(lines->size(), 3u);
  EXPECT_EQ((*lines)[2].second, (Scalars{{"test/top1", 0.25}}));
}

// A line cut short at the checkpoint's own step is lost, not redone: the note counts it.
TEST(MetricsLogTest, ALineCutShortAtTheCheckpointsStepIsNoted) {
  const std::string path = fresh_path("cut_at_checkpoint.jsonl");
  append(path, "{\"step\": 1, \"x\": 1}\n{\"step\": 2, \"x\": 0.1");
  absl::StatusOr<MetricsLog> log = MetricsLog::open(path, /*keep_up_to_step=*/2);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(log->notes(), (std::vector<std::string>{
                              path + ": dropped 1 line cut short, unreadable or out of step order",
                              path + ": its lines end at step 1, before the checkpoint's step 2; "
                                     "steps 2-2 are not in it"}));
}

// Resumed at step 0 (before any update) a missing log loses nothing.
TEST(MetricsLogTest, ResumingAtStepZeroWithoutALogNeedsNoNote) {
  absl::StatusOr<MetricsLog> log = MetricsLog::open(fresh_path("zero.jsonl"), 0);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_TRUE(log->notes().empty()) << log->notes()[0];
}

// A line without its closing brace was cut short, even where what is left parses as a number.
TEST(MetricsLogTest, ReadingRefusesALineCutShort) {
  const std::string path = fresh_path("unclosed.jsonl");
  append(path, "{\"step\": 1, \"x\": 0.12\n");
  EXPECT_TRUE(absl::IsInvalidArgument(read_metrics(path).status())) << read_metrics(path).status();
}

TEST(MetricsLogTest, AFreshRunStartsAnEmptyFile) {
  const std::string path = fresh_path("fresh.jsonl");
  for (int run = 0; run < 2; ++run) {
    absl::StatusOr<MetricsLog> log = MetricsLog::open(path);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(log->log(1, {{"x", 1.0}}).ok());
  }
  EXPECT_EQ(read_metrics(path)->size(), 1u);
}

// A file-size limit just past the first line stands in for a full disk: the second line's write
// is cut short, and the log takes back what it wrote of it.
TEST(MetricsLogTest, AWriteCutShortIsUndoneSoTheFileKeepsWholeLines) {
  const std::string path = fresh_path("short_write.jsonl");
  absl::StatusOr<MetricsLog> log = MetricsLog::open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE(log->log(1, {{"train/loss", 1.0}}).ok());
  const auto size = std::filesystem::file_size(path);
  const absl::Status status = testing::with_file_size_limit<absl::Status>(
      size + 8, [&] { return log->log(2, {{"train/loss", 0.5}}); });

  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find(path), std::string::npos) << status;
  EXPECT_NE(status.message().find("earlier lines are intact"), std::string::npos) << status;
  EXPECT_EQ(std::filesystem::file_size(path), size);
  absl::StatusOr<std::vector<std::pair<int64_t, Scalars>>> lines = read_metrics(path);
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_EQ(lines->size(), 1u);
}

TEST(MetricsLogTest, AnUnwritableFolderIsAnErrorNamingThePath) {
  absl::StatusOr<MetricsLog> log = MetricsLog::open("/nonexistent-dir/metrics.jsonl");
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("/nonexistent-dir/metrics.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace bitgrad
