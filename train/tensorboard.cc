#include "train/tensorboard.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "train/tensorboard_event.pb.h"

namespace bitgrad {
namespace {

// Byte-at-a-time table for the reflected Castagnoli polynomial 0x82F63B78: small and fast
// enough for a few records a step.
const std::array<uint32_t, 256>& crc32c_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t crc = i;
      for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
      t[i] = crc;
    }
    return t;
  }();
  return table;
}

void append_le(std::string& out, uint64_t value, int nbytes) {
  for (int i = 0; i < nbytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// Appends one TFRecord holding `data` (layout in tensorboard.h).
void append_record(std::string& out, const std::string& data) {
  std::string length;
  append_le(length, data.size(), 8);
  out += length;
  append_le(out, mask_crc32c(crc32c(length)), 4);
  out += data;
  append_le(out, mask_crc32c(crc32c(data)), 4);
}

void append_event(std::string& out, const tensorboard::Event& event) {
  append_record(out, event.SerializeAsString());
}

double unix_seconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

// mkdir -p: creates `dir` and its missing parents.
absl::Status make_directories(const std::string& dir) {
  for (size_t end = dir.find('/', 1);; end = dir.find('/', end + 1)) {
    std::string prefix = dir.substr(0, end);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::InternalError(absl::StrCat("cannot create TensorBoard log directory ", dir,
                                              ": mkdir ", prefix, ": ", std::strerror(errno)));
    }
    if (end == std::string::npos) break;
  }
  struct stat info;
  if (::stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return absl::InternalError(
        absl::StrCat("TensorBoard log directory ", dir, " exists but is not a directory"));
  }
  return absl::OkStatus();
}

std::string hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

uint32_t crc32c(absl::string_view data) {
  const std::array<uint32_t, 256>& table = crc32c_table();
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data) crc = table[(crc ^ byte) & 0xff] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

uint32_t mask_crc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

absl::StatusOr<std::unique_ptr<TensorBoardWriter>> TensorBoardWriter::open(
    const std::string& log_dir, int64_t start_step) {
  if (log_dir.empty()) return absl::InvalidArgumentError("TensorBoard log directory is empty");
  if (absl::Status made = make_directories(log_dir); !made.ok()) return made;

  absl::Time now = absl::Now();
  std::string base = absl::StrCat(log_dir, "/events.out.tfevents.", absl::ToUnixSeconds(now),
                                  ".", hostname());
  // O_EXCL: never append to or truncate another writer's file.
  std::string path;
  int fd = -1;
  for (int attempt = 0; attempt < 100; ++attempt) {
    path = attempt == 0 ? base : absl::StrCat(base, ".", attempt);
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EEXIST) break;
  }
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot create TensorBoard events file ", path, ": ", std::strerror(errno)));
  }
  std::unique_ptr<TensorBoardWriter> writer(new TensorBoardWriter(fd, path));

  tensorboard::Event header;
  header.set_wall_time(unix_seconds(now));
  header.set_file_version("brain.Event:2");
  std::string records;
  append_event(records, header);
  if (start_step >= 0) {
    tensorboard::Event start;
    start.set_wall_time(unix_seconds(now));
    start.set_step(start_step);
    start.mutable_session_log()->set_status(tensorboard::SessionLog::START);
    append_event(records, start);
  }
  if (absl::Status written = writer->write_records(records); !written.ok()) return written;
  return writer;
}

TensorBoardWriter::~TensorBoardWriter() { ::close(fd_); }

absl::Status TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  return add_scalars({{tag, value}}, step);
}

absl::Status TensorBoardWriter::add_scalars(
    const std::vector<std::pair<std::string, double>>& scalars, int64_t step) {
  double wall_time = unix_seconds(absl::Now());
  std::string records;
  for (const auto& [tag, value] : scalars) {
    tensorboard::Event event;
    event.set_wall_time(wall_time);
    event.set_step(step);
    tensorboard::Summary::Value* summary_value = event.mutable_summary()->add_value();
    summary_value->set_tag(tag);
    summary_value->set_simple_value(static_cast<float>(value));
    append_event(records, event);
  }
  return write_records(records);
}

absl::Status TensorBoardWriter::sync() {
  if (::fdatasync(fd_) == 0) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("flushing TensorBoard events file ", path_, ": ", std::strerror(errno)));
}

absl::Status TensorBoardWriter::write_records(const std::string& records) {
  // Straight to the kernel with write(2): once it returns, the records outlive this process.
  // No fsync per step (sync() comes before each checkpoint); a killed run loses nothing.
  const char* bytes = records.data();
  size_t left = records.size();
  const off_t size_before = ::lseek(fd_, 0, SEEK_END);
  while (left > 0) {
    ssize_t written = ::write(fd_, bytes, left);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      const int error = written < 0 ? errno : ENOSPC;
      // A record cut short (a full disk) is taken back, so the file keeps whole records.
      if (size_before >= 0 && ::ftruncate(fd_, size_before) == 0) {
        ::lseek(fd_, size_before, SEEK_SET);
      }
      return absl::InternalError(
          absl::StrCat("writing TensorBoard events file ", path_, ": ", std::strerror(error)));
    }
    bytes += written;
    left -= static_cast<size_t>(written);
  }
  return absl::OkStatus();
}

}  // namespace bitgrad
