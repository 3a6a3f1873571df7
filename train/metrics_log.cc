#include "train/metrics_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "io/atomic_file.h"

namespace bitgrad {
namespace {

absl::Status io_error(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// The step a line of log() begins with, even one cut short; -1 for anything else.
int64_t line_step(const std::string& line) {
  long long step = -1;
  return std::sscanf(line.c_str(), "{\"step\": %lld", &step) == 1 && step >= 0 ? step : -1;
}

// A line as log() writes it, parsed; nullopt for anything else (a line cut short, garbage).
std::optional<std::pair<int64_t, Scalars>> parse_line(const std::string& line) {
  const int64_t step = line_step(line);
  if (step < 0 || line.size() < 2 || line.back() != '}') return std::nullopt;
  Scalars scalars;
  // Fields after "step": `, "name": value` (names never hold commas or quotes).
  std::vector<std::string> fields = absl::StrSplit(line.substr(1, line.size() - 2), ", \"");
  for (size_t i = 1; i < fields.size(); ++i) {
    const size_t quote = fields[i].find("\": ");
    double value = 0;
    if (quote == std::string::npos || !absl::SimpleAtod(fields[i].substr(quote + 3), &value)) {
      return std::nullopt;
    }
    scalars.emplace_back(fields[i].substr(0, quote), value);
  }
  return std::make_pair(step, std::move(scalars));
}

// Rewrites `path` (atomically) as a resumed run from `step` needs it: the whole lines of steps up
// to `step`, in step order. A crash of the machine can leave a line cut short or bytes of zeros
// at the end, and lose lines the checkpoint came after: `notes` says what was dropped or lost.
absl::Status keep_lines_up_to(const std::string& path, int64_t step,
                              std::vector<std::string>& notes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (step > 0) {
      notes.push_back(absl::StrCat(path, ": missing; steps 1-", step, " are not in it"));
    }
    return absl::OkStatus();
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  std::vector<std::string> lines = absl::StrSplit(bytes.str(), '\n');
  // After the last newline: "" or a line cut short, which counts as dropped unless it was of a
  // step after the checkpoint (redone anyway).
  const bool cut_short = !lines.back().empty() && line_step(lines.back()) <= step;
  lines.pop_back();
  std::string kept;
  int64_t last_step = 0, dropped = cut_short ? 1 : 0;
  for (const std::string& line : lines) {
    const std::optional<std::pair<int64_t, Scalars>> parsed = parse_line(line);
    if (parsed && parsed->first > step) continue;  // logged after the checkpoint: redone
    if (!parsed || parsed->first < last_step) {
      ++dropped;
      continue;
    }
    last_step = parsed->first;
    kept += line + "\n";
  }
  if (dropped > 0) {
    notes.push_back(absl::StrCat(path, ": dropped ", dropped, dropped == 1 ? " line" : " lines",
                                 " cut short, unreadable or out of step order"));
  }
  if (last_step < step) {
    notes.push_back(absl::StrCat(path, ": its lines end at step ", last_step,
                                 ", before the checkpoint's step ", step, "; steps ",
                                 last_step + 1, "-", step, " are not in it"));
  }
  return write_file_atomically(path, [&](FileSink& sink) {
    return sink.write(kept.data(), kept.size());
  });
}

}  // namespace

absl::StatusOr<MetricsLog> MetricsLog::open(const std::string& path, int64_t keep_up_to_step) {
  if (path.empty()) return MetricsLog("", -1, nullptr);
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  std::vector<std::string> notes;
  if (keep_up_to_step < 0) {
    flags |= O_TRUNC;
  } else if (absl::Status status = keep_lines_up_to(path, keep_up_to_step, notes);
             !status.ok()) {
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
  MetricsLog log(path, fd, std::move(*tensorboard));
  log.notes_ = std::move(notes);
  return log;
}

MetricsLog::MetricsLog(MetricsLog&& other) noexcept
    : path_(other.path_),
      fd_(other.fd_),
      tensorboard_(std::move(other.tensorboard_)),
      notes_(std::move(other.notes_)) {
  other.fd_ = -1;
}

absl::Status MetricsLog::sync() {
  if (fd_ < 0) return absl::OkStatus();
  if (::fdatasync(fd_) != 0) return io_error("cannot flush the metrics log", path_);
  return tensorboard_->sync();
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
    std::optional<std::pair<int64_t, Scalars>> parsed = parse_line(line);
    if (!parsed) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": not a metrics line: ", line));
    }
    lines.push_back(*std::move(parsed));
  }
  return lines;
}

}  // namespace bitgrad
