#include "train/metrics_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "io/atomic_file.h"

namespace bitgrad {
namespace {

absl::Status io_error(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// "step" of a line written by log(); -1 for anything else.
int64_t line_step(const std::string& line) {
  long long step = -1;
  return std::sscanf(line.c_str(), "{\"step\": %lld", &step) == 1 ? step : -1;
}

// Rewrites `path` (atomically) without the lines of steps after `step`.
absl::Status truncate_after(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return absl::OkStatus();  // nothing logged yet
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line_step(line) >= 0 && line_step(line) <= step) kept += line + "\n";
  }
  return write_file_atomically(path, [&](FileSink& sink) {
    return sink.write(kept.data(), kept.size());
  });
}

}  // namespace

absl::StatusOr<MetricsLog> MetricsLog::open(const std::string& path, int64_t keep_up_to_step) {
  if (path.empty()) return MetricsLog("", -1, nullptr);
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  if (keep_up_to_step < 0) {
    flags |= O_TRUNC;
  } else if (absl::Status status = truncate_after(path, keep_up_to_step); !status.ok()) {
    return status;
  }
  const int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return io_error("cannot open the metrics log", path);
  const size_t slash = path.rfind('/');
  const std::string run_dir = slash == std::string::npos ? "." : path.substr(0, slash);
  absl::StatusOr<std::unique_ptr<TensorBoardWriter>> tensorboard =
      TensorBoardWriter::open(run_dir + "/tensorboard", keep_up_to_step + 1);
  if (!tensorboard.ok()) {
    ::close(fd);
    return tensorboard.status();
  }
  return MetricsLog(path, fd, std::move(*tensorboard));
}

MetricsLog::MetricsLog(MetricsLog&& other) noexcept
    : path_(other.path_), fd_(other.fd_), tensorboard_(std::move(other.tensorboard_)) {
  other.fd_ = -1;
}

MetricsLog::~MetricsLog() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status MetricsLog::log(int64_t step, const Scalars& scalars) {
  if (fd_ < 0) return absl::OkStatus();
  std::string line = absl::StrCat("{\"step\": ", step);
  for (const auto& [name, value] : scalars) {
    absl::StrAppend(&line, ", \"", name, "\": ", absl::StrFormat("%.17g", value));
  }
  line += "}\n";
  // A write cut short (a full disk) is undone, so the file keeps whole lines only.
  const off_t size_before = ::lseek(fd_, 0, SEEK_END);
  const ssize_t written = ::write(fd_, line.data(), line.size());
  if (written != static_cast<ssize_t>(line.size())) {
    const int error = written < 0 ? errno : ENOSPC;  // a short write sets no errno
    const bool intact =
        written <= 0 || (size_before >= 0 && ::ftruncate(fd_, size_before) == 0);
    return absl::InternalError(absl::StrCat(
        "cannot append to the metrics log ", path_, ": ", std::strerror(error),
        intact ? " (its earlier lines are intact)" : " (its last line is cut short)"));
  }
  return tensorboard_->add_scalars(scalars, step);
}

absl::StatusOr<std::vector<std::pair<int64_t, Scalars>>> read_metrics(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the metrics log ", path));
  std::vector<std::pair<int64_t, Scalars>> lines;
  std::string line;
  while (std::getline(in, line)) {
    const int64_t step = line_step(line);
    if (step < 0 || line.size() < 2 || line.back() != '}') {
      return absl::InvalidArgumentError(absl::StrCat(path, ": not a metrics line: ", line));
    }
    Scalars scalars;
    // Fields after "step": `, "name": value` (names never hold commas or quotes).
    std::vector<std::string> fields = absl::StrSplit(line.substr(1, line.size() - 2), ", \"");
    for (size_t i = 1; i < fields.size(); ++i) {
      const size_t quote = fields[i].find("\": ");
      if (quote == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": bad field in ", line));
      }
      scalars.emplace_back(fields[i].substr(0, quote), std::stod(fields[i].substr(quote + 3)));
    }
    lines.emplace_back(step, std::move(scalars));
  }
  return lines;
}

}  // namespace bitgrad
