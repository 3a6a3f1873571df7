#include "io/file_limits.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace bitgrad {
namespace {

uint64_t initial_limit() {
  const char* text = std::getenv("BITGRAD_MAX_FILE_TENSOR_BYTES");
  uint64_t bytes = 0;
  if (text != nullptr && absl::SimpleAtoi(text, &bytes) && bytes > 0) return bytes;
  return kDefaultMaxFileTensorBytes;
}

std::atomic<uint64_t>& limit() {
  static std::atomic<uint64_t> bytes{initial_limit()};
  return bytes;
}

}  // namespace

uint64_t max_file_tensor_bytes() { return limit().load(); }

void set_max_file_tensor_bytes(uint64_t bytes) { limit().store(bytes); }

absl::Status check_file_tensor_bytes(uint64_t nbytes, const std::string& where) {
  const uint64_t max = max_file_tensor_bytes();
  if (nbytes <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      where, ": an array of ", nbytes, " bytes is over the limit of ", max,
      " bytes per array read from a file (max_file_tensor_bytes; raise it with "
      "BITGRAD_MAX_FILE_TENSOR_BYTES if the file is genuine)"));
}

bool checked_array_bytes(const int64_t* extents, int rank, uint64_t item_size, uint64_t* nbytes) {
  // As numpy does, an empty array's other extents must still multiply without overflow: code that
  // forms strides or per-item sizes from them then never overflows either.
  uint64_t total = item_size;
  bool empty = false;
  for (int i = 0; i < rank; ++i) {
    if (extents[i] < 0) return false;
    const auto extent = static_cast<uint64_t>(extents[i]);
    if (extent == 0) {
      empty = true;
      continue;
    }
    if (total > uint64_t{INT64_MAX} / extent) return false;
    total *= extent;
  }
  *nbytes = empty ? 0 : total;
  return true;
}

}  // namespace bitgrad
