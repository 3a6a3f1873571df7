#include "train/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "io/atomic_file.h"

namespace bitgrad {

std::string checkpoint_path(const std::string& out) { return out + "/checkpoint.ckpt"; }
std::string metrics_path(const std::string& out) { return out + "/metrics.jsonl"; }
std::string lock_path(const std::string& out) { return out + "/lock"; }
namespace {

absl::Status out_error(const std::string& path, const std::string& what) {
  return absl::FailedPreconditionError(absl::StrCat("--out: ", path, ": ", what));
}

// The pid a live run wrote into its lock file, or "another process".
std::string lock_holder(const std::string& lock_path) {
  std::ifstream in(lock_path);
  std::string pid;
  std::getline(in, pid);
  return pid.empty() ? "another process" : absl::StrCat("process ", pid);
}

absl::Status in_use(const std::string& path, const std::string& lock_path) {
  std::error_code ignored;
  const std::string holder =
      std::filesystem::exists(lock_path, ignored)
          ? absl::StrCat(lock_holder(lock_path), " holds ", lock_path)
          : absl::StrCat("which holds the folder; its ", lock_path, " was deleted");
  return out_error(path, absl::StrCat("in use by another run (", holder,
                                      "); wait for it or choose another --out"));
}

// The run directory's own lock, beside OUT/lock's: deleting that file by hand (a lock that looks
// stale) would otherwise let a second run in. Returns the locked descriptor, or -1 where folders
// cannot be flocked (NFS emulates flock with write locks, which a folder cannot take): there
// OUT/lock's lock alone holds.
absl::StatusOr<int> lock_folder(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
  const bool held = errno == EWOULDBLOCK;
  ::close(fd);
  if (held) return in_use(path, lock_path(path));
  return -1;
}

// Whether a live run holds the run directory `path`, by either of its locks. Neither is taken.
bool held_by_a_run(const std::string& path) {
  const auto held = [](const std::string& file, int flags) {
    const int fd = ::open(file.c_str(), flags | O_CLOEXEC);
    if (fd < 0) return false;
    const bool busy = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(fd);  // releases the shared lock, if taken
    return busy;
  };
  // Neither through a link nor waiting on a FIFO planted at OUT/lock: RunDirectory::open refuses
  // them.
  return held(path, O_RDONLY | O_DIRECTORY) ||
         held(lock_path(path), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
}

void remove_stale_temporaries(const std::string& dir) {
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ignored)) {
    if (is_atomic_write_temporary(entry.path().filename().string())) {
      std::filesystem::remove(entry.path(), ignored);
    }
  }
}

}  // namespace

absl::StatusOr<RunDirectory> RunDirectory::open(const std::string& path) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) {
    return out_error(path, absl::StrCat("cannot create the run directory: ", error.message()));
  }
  if (::access(path.c_str(), W_OK) != 0) {
    return out_error(path,
                     absl::StrCat("the run directory is not writable: ", std::strerror(errno)));
  }
  const std::string lock_path = bitgrad::lock_path(path);
  absl::StatusOr<int> folder_fd = lock_folder(path);
  if (!folder_fd.ok()) return folder_fd.status();
  RunDirectory opened(path, -1, *folder_fd);  // its destructor releases what is taken
  // Not through a link: as root, a link planted there would have the pid written over its target.
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int open_errno = errno;
    return out_error(path, absl::StrCat("cannot create ", lock_path, ": ",
                                        open_errno == ELOOP ? "it is a symbolic link; remove it"
                                                            : std::strerror(open_errno)));
  }
  opened.lock_fd_ = fd;
  if (struct stat file; ::fstat(fd, &file) == 0 && !S_ISREG(file.st_mode)) {
    return out_error(path, absl::StrCat(lock_path, " is not a regular file (a pipe, a device?); "
                                        "remove it"));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return in_use(path, lock_path);
    return out_error(path, absl::StrCat("cannot lock ", lock_path, ": ", std::strerror(errno)));
  }
  const std::string pid = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(fd, 0) != 0 || ::write(fd, pid.data(), pid.size()) < 0) {
    return out_error(path, absl::StrCat("cannot write ", lock_path, ": ", std::strerror(errno)));
  }
  remove_stale_temporaries(path);
  return opened;
}

absl::StatusOr<Checkpoint> read_checkpoint_to_resume(const std::string& out) {
  const std::string path = checkpoint_path(out);
  std::error_code error;
  if (std::filesystem::exists(path, error)) return load_checkpoint(path);
  return absl::NotFoundError(absl::StrCat(
      "--resume: no checkpoint ", path, ": the run wrote none (the first comes at the first "
      "evaluation, --eval_every); run again without --resume"));
}

absl::Status check_not_a_run_temporary(const std::string& flag, const std::string& path,
                                       const std::string& out) {
  if (out.empty() || !is_atomic_write_temporary(std::filesystem::path(path).filename().string())) {
    return absl::OkStatus();
  }
  std::error_code error;
  const std::string folder = std::filesystem::absolute(path, error).parent_path().string();
  if (!same_file(folder, out)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      flag, ": ", path, " is named as the temporary of a write (NAME.tmp-PID-N), which a run in ",
      out, " deletes when it starts: give another name"));
}

absl::Status check_run_directory_usable(const std::string& path) {
  std::error_code error;
  if (std::filesystem::exists(path, error) && !std::filesystem::is_directory(path, error)) {
    return out_error(path, "it is a file, not a folder");
  }
  if (error && error != std::errc::no_such_file_or_directory) {
    return out_error(path, absl::StrCat("cannot look at it: ", error.message()));
  }
  if (held_by_a_run(path)) return in_use(path, lock_path(path));
  if (std::filesystem::is_directory(path, error) && ::access(path.c_str(), W_OK) != 0) {
    return out_error(path,
                     absl::StrCat("the run directory is not writable: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

RunDirectory::RunDirectory(RunDirectory&& other) noexcept
    : path_(std::move(other.path_)), lock_fd_(other.lock_fd_), folder_fd_(other.folder_fd_) {
  other.lock_fd_ = -1;
  other.folder_fd_ = -1;
}

RunDirectory::~RunDirectory() {
  // Closing the last descriptor releases its flock.
  if (lock_fd_ >= 0) ::close(lock_fd_);
  if (folder_fd_ >= 0) ::close(folder_fd_);
}

}  // namespace bitgrad
