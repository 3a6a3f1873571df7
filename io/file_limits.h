// The one limit on what a file may make a reader allocate. Readers check a header's declared
// array size against it (and against the file's size, where the format allows) BEFORE
// allocating, so a 1 KB file declaring 10^12 elements, or a zip entry claiming 100 GB, is refused
// with a message instead of exhausting memory.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace bitgrad {

inline constexpr uint64_t kDefaultMaxFileTensorBytes = uint64_t{8} << 30;  // 8 GiB

// Process-wide: the environment variable BITGRAD_MAX_FILE_TENSOR_BYTES (a byte count) when set,
// otherwise kDefaultMaxFileTensorBytes, until set_max_file_tensor_bytes changes it.
uint64_t max_file_tensor_bytes();
void set_max_file_tensor_bytes(uint64_t bytes);

// OK when one array of `nbytes` may be allocated; otherwise an InvalidArgument error naming
// `where`, the size and the limit (and how to raise it).
absl::Status check_file_tensor_bytes(uint64_t nbytes, const std::string& where);

// elements * item_size, or false when an extent is negative or the product of the non-zero
// extents and item_size is over INT64_MAX (then it is over any limit too).
bool checked_array_bytes(const int64_t* extents, int rank, uint64_t item_size, uint64_t* nbytes);

}  // namespace bitgrad
