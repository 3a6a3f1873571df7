// What every fuzz target shares: inputs as files, and the checks it makes of what a reader
// returns. A failed check aborts, which libFuzzer reports as a crash with the input that caused it.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "core/tensor.h"

namespace bitgrad::fuzz {

// The limit on one array read from a file during fuzzing (io/file_limits.h): a crafted size
// must be refused, not followed into libFuzzer's RSS limit, and each input stays fast (a few
// header bytes can declare a large image that libjpeg then decodes in full).
inline constexpr uint64_t kFuzzMaxFileTensorBytes = uint64_t{1} << 20;

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz check failed: %s\n", what.c_str());
  std::abort();
}

inline void require(bool condition, const std::string& what) {
  if (!condition) fail(what);
}

// Errors about a file must name it (the guide's rule for bad input).
inline void require_names(const absl::Status& status, const std::string& name) {
  require(!status.ok(), "require_names on an OK status");
  require(absl::StrContains(status.message(), name),
          "the error does not name " + name + ": " + std::string(status.message()));
}

// A tensor a reader returns: defined, plain, on the CPU, its bytes all readable (a bad size
// makes ASan report the read).
inline uint8_t require_plain_cpu_tensor(const Tensor& t, const std::string& what) {
  require(t.defined(), what + ": undefined tensor");
  require(t.device().is_cpu() && t.is_plain(), what + ": not a plain CPU tensor");
  require(t.nbytes() == size_t(t.numel()) * dtype_size(t.dtype()), what + ": size mismatch");
  const auto* bytes = static_cast<const uint8_t*>(t.raw_data());
  uint8_t folded = 0;
  for (size_t i = 0; i < t.nbytes(); ++i) folded ^= bytes[i];
  return folded;
}

// Fuzz inputs as files without touching the disk: the readers under test take paths (they stat,
// open, seek and re-open), so each input is written to an in-memory file (memfd) that is reached
// through /proc/self/fd/N like any other path.

class MemoryFile {
 public:
  MemoryFile() : fd_(memfd_create("fuzz_input", 0)) {
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemoryFile() { close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  // Replaces the contents with `size` bytes at `data`; returns the path that reads them.
  const std::string& hold(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0 || (size > 0 && pwrite(fd_, data, size, 0) != ssize_t(size))) {
      std::perror("writing the memory file");
      std::abort();
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace bitgrad::fuzz
