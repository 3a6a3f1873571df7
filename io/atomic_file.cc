#include "io/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace bitgrad {
namespace {

class FdSink final : public FileSink {
 public:
  FdSink(int fd, const std::string& path) : fd_(fd), path_(path) {}
  absl::Status write(const void* data, size_t nbytes) override {
    const char* bytes = static_cast<const char*>(data);
    while (nbytes > 0) {
      ssize_t written = ::write(fd_, bytes, nbytes);
      if (written < 0 && errno == EINTR) continue;
      if (written < 0) {
        return absl::InternalError(absl::StrCat("writing ", path_, ": ", std::strerror(errno)));
      }
      bytes += written;
      nbytes -= static_cast<size_t>(written);
    }
    return absl::OkStatus();
  }

 private:
  int fd_;
  const std::string& path_;
};

std::string directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Unique per process and call, so concurrent writers of one path never share a temporary.
std::string temporary_path_for(const std::string& path) {
  static std::atomic<int> counter{0};
  return absl::StrCat(path, ".tmp-", ::getpid(), "-", counter++);
}

bool all_digits(absl::string_view text) {
  return !text.empty() && absl::c_all_of(text, [](char c) { return absl::ascii_isdigit(c); });
}

// The PID of a temporary's name (NAME.tmp-PID-N, or that with libzip's suffix: see
// is_atomic_write_temporary), as written; nullopt for other names.
std::optional<absl::string_view> temporary_pid_digits(absl::string_view file_name) {
  const size_t marker = file_name.rfind(".tmp-");
  if (marker == absl::string_view::npos || marker == 0) return std::nullopt;
  absl::string_view counters = file_name.substr(marker + 5);
  // libzip writes our temporary through one of its own: TEMPORARY.XXXXXX (mkstemp, 1.7), or
  // eight random hex digits in later versions.
  if (const size_t dot = counters.find('.'); dot != absl::string_view::npos) {
    const absl::string_view suffix = counters.substr(dot + 1);
    if ((suffix.size() != 6 && suffix.size() != 8) || !absl::c_all_of(suffix, [](char c) {
          return absl::ascii_isalnum(c);
        })) {
      return std::nullopt;
    }
    counters = counters.substr(0, dot);
  }
  const size_t dash = counters.find('-');
  if (dash == absl::string_view::npos || !all_digits(counters.substr(0, dash)) ||
      !all_digits(counters.substr(dash + 1))) {
    return std::nullopt;
  }
  return counters.substr(0, dash);
}

// What writes of `path` killed before publishing left beside it (PATH.tmp-PID-N, and libzip's
// temporaries of those) whose process is gone: no one will publish or delete them. Those of a
// running process stay, as it may be writing them still.
void remove_temporaries_of_killed_writes(const std::string& path) {
  const std::string prefix = std::filesystem::path(path).filename().string() + ".tmp-";
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(directory_of(path), ignored)) {
    const std::string name = entry.path().filename().string();
    const std::optional<absl::string_view> pid_digits = temporary_pid_digits(name);
    int pid = 0;
    if (!absl::StartsWith(name, prefix) || !pid_digits ||
        pid_digits->data() != name.data() + prefix.size() ||  // NAME is `path`'s whole name
        !absl::SimpleAtoi(*pid_digits, &pid) || pid <= 0) {
      continue;
    }
    if (::kill(pid, 0) != 0 && errno == ESRCH) std::filesystem::remove(entry.path(), ignored);
  }
}

absl::Status flush_to_disk(const std::string& temporary, const std::string& path) {
  const int fd = ::open(temporary.c_str(), O_RDONLY | O_CLOEXEC);
  const bool flushed = fd >= 0 && ::fsync(fd) == 0;
  const int error = errno;
  if (fd >= 0) ::close(fd);
  if (flushed) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("flushing ", path, ": ", std::strerror(error)));
}

// A test hook (io/atomic_file.h): holds the finished temporary unpublished for a while.
void pause_before_publishing() {
  static const int milliseconds = [] {
    const char* value = std::getenv("BITGRAD_TEST_PAUSE_BEFORE_PUBLISH_MS");
    return value == nullptr ? 0 : std::atoi(value);
  }();
  if (milliseconds > 0) std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
}

// Why `path` cannot be replaced by a file, or "": a folder, or a device, pipe or socket (the
// rename would put a plain file where /dev/null was).
std::string not_replaceable(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0 || S_ISREG(info.st_mode)) return "";
  if (S_ISDIR(info.st_mode)) return "it is a folder; give a file name";
  return "it is a device, pipe or socket, not a file; give a file name";
}

}  // namespace

absl::Status write_file_atomically_via(
    const std::string& path, const std::function<absl::Status(const std::string&)>& write) {
  if (std::string why = not_replaceable(path); !why.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot write ", path, ": ", why));
  }
  const std::string temporary = temporary_path_for(path);
  absl::Status status = write(temporary);
  if (status.ok()) pause_before_publishing();
  if (status.ok()) status = flush_to_disk(temporary, path);
  if (status.ok() && ::rename(temporary.c_str(), path.c_str()) != 0) {
    status = absl::InternalError(absl::StrCat("cannot replace ", path, ": ", std::strerror(errno)));
  }
  if (!status.ok()) {
    ::unlink(temporary.c_str());
    return status;
  }
  // Make the rename itself durable.
  int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  remove_temporaries_of_killed_writes(path);
  return absl::OkStatus();
}

absl::Status write_file_atomically(const std::string& path,
                                   const std::function<absl::Status(FileSink&)>& fill) {
  return write_file_atomically_via(path, [&](const std::string& temporary) {
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      return absl::InternalError(absl::StrCat("cannot write ", path, ": creating ", temporary,
                                              ": ", std::strerror(errno)));
    }
    FdSink sink(fd, path);
    absl::Status status = fill(sink);
    if (::close(fd) != 0 && status.ok()) {
      status = absl::InternalError(absl::StrCat("closing ", path, ": ", std::strerror(errno)));
    }
    return status;
  });
}

absl::Status check_writable_path(const std::string& path) {
  if (std::string why = not_replaceable(path); !why.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot write ", path, ": ", why));
  }
  const std::string folder = directory_of(path);
  struct stat info;
  if (::stat(folder.c_str(), &info) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot write ", path, ": its folder ", folder,
                                            " does not exist (create it first)"));
  }
  if (!S_ISDIR(info.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write ", path, ": ", folder, " is a file, not a folder"));
  }
  if (::access(folder.c_str(), W_OK | X_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot write ", path, ": its folder ", folder, " takes no new files: ",
        std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status check_output_flag(const std::string& flag, const std::string& path) {
  if (path.empty()) return absl::OkStatus();
  absl::Status status = check_writable_path(path);
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(flag, ": ", status.message()));
}

bool same_file(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::equivalent(a, b, error)) return true;  // both exist: links and hard links too
  // Absolute, `..` and links resolved as far as the path exists, a trailing '/' dropped.
  const auto resolved = [&error](const std::string& path) {
    fs::path real = fs::weakly_canonical(fs::absolute(path, error), error);
    return real.has_filename() ? real : real.parent_path();
  };
  const fs::path resolved_a = resolved(a);
  const fs::path resolved_b = resolved(b);
  return !error && resolved_a == resolved_b;
}

absl::Status check_outputs_overwrite_nothing(const std::vector<FlagPath>& inputs,
                                             const std::vector<FlagPath>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const FlagPath& output = outputs[i];
    if (output.path.empty()) continue;
    for (const FlagPath& input : inputs) {
      if (input.path.empty() || !same_file(output.path, input.path)) continue;
      return absl::InvalidArgumentError(absl::StrCat(
          output.flag, ": ", output.path, " is the file ", input.flag, " reads (", input.path,
          "); writing it would destroy that: give another path"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (outputs[j].path.empty() || !same_file(output.path, outputs[j].path)) continue;
      return absl::InvalidArgumentError(absl::StrCat(
          output.flag, ": ", output.path, " is also ", outputs[j].flag, " (", outputs[j].path,
          "); one would replace the other: give each its own file"));
    }
  }
  return absl::OkStatus();
}

bool is_atomic_write_temporary(const std::string& file_name) {
  return temporary_pid_digits(file_name).has_value();
}

}  // namespace bitgrad
