#include "train/tensorboard.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/data/temp_files.h"
#include "train/metrics_log.h"
#include "train/tensorboard_event.pb.h"

namespace bitgrad {
namespace {

using tensorboard::Event;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

uint64_t read_le(const std::string& bytes, size_t at, int nbytes) {
  uint64_t value = 0;
  for (int i = 0; i < nbytes; ++i) {
    value |= uint64_t{static_cast<unsigned char>(bytes[at + i])} << (8 * i);
  }
  return value;
}

// Reads an events file independently of the writer: walks the TFRecord framing, checks both
// CRCs of every record and parses each as an Event.
std::vector<Event> read_events(const std::string& path) {
  std::string file = read_all(path);
  std::vector<Event> events;
  size_t at = 0;
  while (at < file.size()) {
    if (file.size() - at < 12) {
      ADD_FAILURE() << "truncated record header at byte " << at;
      break;
    }
    uint64_t length = read_le(file, at, 8);
    EXPECT_EQ(read_le(file, at + 8, 4), mask_crc32c(crc32c(file.substr(at, 8))))
        << "length CRC of the record at byte " << at;
    if (file.size() - at - 12 < length + 4) {
      ADD_FAILURE() << "truncated record data at byte " << at;
      break;
    }
    std::string data = file.substr(at + 12, length);
    EXPECT_EQ(read_le(file, at + 12 + length, 4), mask_crc32c(crc32c(data)))
        << "data CRC of the record at byte " << at;
    Event event;
    EXPECT_TRUE(event.ParseFromString(data)) << "record at byte " << at;
    events.push_back(event);
    at += 12 + length + 4;
  }
  return events;
}

std::string fresh_dir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/" + name;
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c("a"), 0xC1D04330u);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  // RFC 3720 (iSCSI) appendix B.4.
  EXPECT_EQ(crc32c(std::string(32, '\x00')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
}

TEST(Crc32cTest, MaskRotatesRightBy15AndAddsTheConstant) {
  EXPECT_EQ(mask_crc32c(0), 0xA282EAD8u);
  EXPECT_EQ(mask_crc32c(0x12345678u), 0x4F730F40u);
}

TEST(TensorBoardWriterTest, ScalarsReadBackWithTagsValuesAndSteps) {
  std::string dir = ::testing::TempDir() + "/tb_scalars/run1";  // parents are created
  absl::StatusOr<std::unique_ptr<TensorBoardWriter>> writer = TensorBoardWriter::open(dir);
  ASSERT_TRUE(writer.ok()) << writer.status();
  const std::string& path = (*writer)->path();
  EXPECT_TRUE(absl::StartsWith(path, dir + "/events.out.tfevents.")) << path;

  ASSERT_TRUE((*writer)->add_scalar("loss", 2.5, 1).ok());
  ASSERT_TRUE((*writer)->add_scalars({{"lr", 0.1}, {"top1", 0.75}, {"images_per_s", 1234.5}}, 2)
                  .ok());

  // Read while the writer is still open: every add_* has already reached the file.
  std::vector<Event> events = read_events(path);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_GT(events[0].wall_time(), 1.5e9);  // seconds since 1970, not milliseconds or zero

  struct Expected {
    const char* tag;
    float value;
    int64_t step;
  };
  const Expected expected[] = {
      {"loss", 2.5f, 1}, {"lr", 0.1f, 2}, {"top1", 0.75f, 2}, {"images_per_s", 1234.5f, 2}};
  for (int i = 0; i < 4; ++i) {
    const Event& event = events[i + 1];
    ASSERT_TRUE(event.has_summary()) << "event " << i + 1;
    ASSERT_EQ(event.summary().value_size(), 1);
    EXPECT_EQ(event.summary().value(0).tag(), expected[i].tag);
    EXPECT_EQ(event.summary().value(0).simple_value(), expected[i].value);
    EXPECT_EQ(event.step(), expected[i].step);
    EXPECT_GE(event.wall_time(), events[0].wall_time());
  }
  // add_scalars: one wall time for all of its events.
  EXPECT_EQ(events[3].wall_time(), events[2].wall_time());
  EXPECT_EQ(events[4].wall_time(), events[2].wall_time());
}

TEST(TensorBoardWriterTest, TwoWritersInOneDirectoryGetTheirOwnFiles) {
  std::string dir = fresh_dir("tb_two_writers");
  auto first = TensorBoardWriter::open(dir);
  auto second = TensorBoardWriter::open(dir);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE((*first)->path(), (*second)->path());
  ASSERT_TRUE((*first)->add_scalar("loss", 1.0, 0).ok());
  ASSERT_TRUE((*second)->add_scalar("loss", 2.0, 0).ok());
  ASSERT_EQ(read_events((*first)->path()).size(), 2u);
  ASSERT_EQ(read_events((*second)->path()).size(), 2u);
  EXPECT_EQ(read_events((*second)->path())[1].summary().value(0).simple_value(), 2.0f);
}

TEST(TensorBoardWriterTest, AKilledRunKeepsWhatItLogged) {
  std::string dir = fresh_dir("tb_killed");
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // SIGKILL: no destructors, no exit handlers, nothing flushed on the way out.
    auto writer = TensorBoardWriter::open(dir);
    if (!writer.ok()) ::_exit(1);
    for (int step = 0; step < 3; ++step) {
      if (!(*writer)->add_scalar("loss", 1.0 / (step + 1), step).ok()) ::_exit(1);
    }
    ::kill(::getpid(), SIGKILL);
  }
  int wait_status = 0;
  ASSERT_EQ(::waitpid(child, &wait_status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wait_status)) << "the child failed before it was killed";

  std::vector<std::string> files;
  DIR* d = ::opendir(dir.c_str());
  while (dirent* entry = ::readdir(d)) {
    if (entry->d_name[0] != '.') files.push_back(dir + "/" + entry->d_name);
  }
  ::closedir(d);
  ASSERT_EQ(files.size(), 1u);
  std::vector<Event> events = read_events(files[0]);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[3].step(), 2);
  EXPECT_EQ(events[3].summary().value(0).simple_value(), 1.0f / 3);
}

// A file-size limit just past the first records stands in for a full disk: the record cut short
// is taken back, so the file keeps whole records, as metrics.jsonl keeps whole lines.
TEST(TensorBoardWriterTest, ARecordCutShortIsTakenBack) {
  std::string dir = fresh_dir("tb_short");
  auto writer = TensorBoardWriter::open(dir);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->add_scalar("loss", 1.0, 1).ok());
  const auto size = std::filesystem::file_size((*writer)->path());
  const absl::Status status = testing::with_file_size_limit<absl::Status>(
      size + 8, [&] { return (*writer)->add_scalar("loss", 0.5, 2); });
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find((*writer)->path()), std::string::npos) << status;
  EXPECT_EQ(std::filesystem::file_size((*writer)->path()), size);
  ASSERT_TRUE((*writer)->add_scalar("loss", 0.25, 3).ok());  // and goes on after it
  std::vector<Event> events = read_events((*writer)->path());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].step(), 3);
}

// TensorBoard reads these numbers from the wire (tensorflow/core/util/event.proto); our message
// names differ, the numbers must not.
TEST(TensorBoardWriterTest, FieldNumbersAreTensorFlows) {
  EXPECT_EQ(Event::kWallTimeFieldNumber, 1);
  EXPECT_EQ(Event::kStepFieldNumber, 2);
  EXPECT_EQ(Event::kFileVersionFieldNumber, 3);
  EXPECT_EQ(Event::kSummaryFieldNumber, 5);
  EXPECT_EQ(Event::kSessionLogFieldNumber, 7);  // 6 is the deprecated log_message
  EXPECT_EQ(tensorboard::SessionLog::kStatusFieldNumber, 1);
  EXPECT_EQ(tensorboard::SessionLog::START, 1);
  EXPECT_EQ(tensorboard::Summary::kValueFieldNumber, 1);
  EXPECT_EQ(tensorboard::Summary::Value::kTagFieldNumber, 1);
  EXPECT_EQ(tensorboard::Summary::Value::kSimpleValueFieldNumber, 2);
}

// A start step: the second record is a SessionLog START at it, before any scalar.
TEST(TensorBoardWriterTest, AStartStepIsMarkedAfterTheHeader) {
  auto writer = TensorBoardWriter::open(fresh_dir("tb_start"), 7);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->add_scalar("loss", 1.0, 7).ok());
  std::vector<Event> events = read_events((*writer)->path());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  ASSERT_TRUE(events[1].has_session_log());
  EXPECT_EQ(events[1].session_log().status(), tensorboard::SessionLog::START);
  EXPECT_EQ(events[1].step(), 7);
  EXPECT_TRUE(events[2].has_summary());
}

// The run's log: each opening starts a new events file marked as a start at the first step it
// will log, so that TensorBoard drops what a killed run logged past its checkpoint.
TEST(TensorBoardWriterTest, EachMetricsLogMarksWhereItsRunStarts) {
  const std::string run_dir = fresh_dir("tb_metrics_starts");
  for (int64_t keep_up_to_step : {-1, 3}) {  // a fresh run, then one resumed after step 3
    absl::StatusOr<MetricsLog> log = MetricsLog::open(run_dir + "/metrics.jsonl",
                                                      keep_up_to_step);
    ASSERT_TRUE(log.ok()) << log.status();
  }
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(run_dir + "/tensorboard")) {
    files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());  // by name: the later file second
  ASSERT_EQ(files.size(), 2u);
  std::vector<int64_t> starts;
  for (const std::string& file : files) {
    std::vector<Event> events = read_events(file);
    ASSERT_EQ(events.size(), 2u) << file;
    ASSERT_EQ(events[1].session_log().status(), tensorboard::SessionLog::START) << file;
    starts.push_back(events[1].step());
  }
  EXPECT_EQ(starts, std::vector<int64_t>({0, 4}));
}

TEST(TensorBoardWriterTest, UnwritableDirectoryGivesAnErrorNamingIt) {
  // A directory under a regular file cannot be created, even by root (tests may run as root,
  // which ignores permission bits).
  std::string file = ::testing::TempDir() + "/tb_not_a_directory";
  std::ofstream(file) << "x";
  std::string dir = file + "/logs";
  auto writer = TensorBoardWriter::open(dir);
  ASSERT_FALSE(writer.ok());
  EXPECT_TRUE(absl::StrContains(writer.status().message(), dir)) << writer.status();

  auto on_file = TensorBoardWriter::open(file);
  ASSERT_FALSE(on_file.ok());
  EXPECT_TRUE(absl::StrContains(on_file.status().message(),
                                file + " exists but is not a directory"))
      << on_file.status();
}

}  // namespace
}  // namespace bitgrad
