// NumPy .npy arrays (np.save / np.load), and the .npy header that every entry of an .npz starts
// with (io/npz.h).
//
// .npy (format versions 1.0, 2.0 and 3.0): "\x93NUMPY", major, minor, a little-endian header
// length (2 bytes in 1.0, 4 in 2.0/3.0), then a Python dict literal
//   {'descr': '<f4', 'fortran_order': False, 'shape': (7, 7, 3, 64), }
// padded with spaces to a multiple of 64 bytes and ended by '\n', then the raw data, row-major,
// or column-major when fortran_order is True (numpy writes that for transposed arrays). Every
// bool, integer and float descr numpy writes for images and labels is read, in either byte order
// (io/npy_elements.h): into the dtype that holds it exactly, or into the caller's dtype where the
// conversion is exact. Arrays always come back in C order.
//
// Every error is an absl::Status whose message names the file (and, in an .npz, the array).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "io/npy_elements.h"

namespace bitgrad {

// Writes `array` (any device or layout) as one .npy file, atomically (io/atomic_file.h).
absl::Status write_npy(const std::string& path, const Tensor& array);
// Reads a whole .npy file into a plain CPU tensor of npy_read_dtype (uint8, int64, float16/32/64).
// Errors name the file: missing, not an .npy (an .npz archive is recognised and named as such), a
// bad header, an unsupported dtype, truncated data, or bytes after the data.
absl::StatusOr<Tensor> read_npy(const std::string& path);
// The same as `dtype`, where every stored value converts exactly (npy_array_as).
absl::StatusOr<Tensor> read_npy(const std::string& path, DType dtype);

// ------------------------------------------------------------------------------------------------
// The header on its own: the one parser for .npy and .npz readers, tests and tools.

struct NpyHeader {
  NpyElement element;            // as stored
  DType dtype = DType::kFloat32;  // as read: npy_read_dtype(element)
  Shape shape;                    // the logical shape, whatever the element order
  bool fortran_order = false;
  size_t data_offset = 0;  // bytes before the data: magic, version, length field, dict
};

// Parses the start of an .npy file (at least the full header). `where` prefixes messages. A
// DataLoss status means the bytes end inside the header.
absl::StatusOr<NpyHeader> parse_npy_header(const std::string& bytes, const std::string& where);

// Fills `out` with exactly `count` more bytes of the stream, or fails.
using ReadExactly = std::function<absl::Status(char* out, size_t count)>;
// Reads and parses the header at the start of a stream of `size` bytes (a file, an .npz entry),
// leaving the stream at the data: first the fixed prefix, which gives the header's length, then
// the rest of the header.
absl::StatusOr<NpyHeader> read_npy_header(const ReadExactly& read, uint64_t size,
                                          const std::string& where);

// Checks that the `available` bytes after the header hold exactly the header's array.
absl::Status check_npy_data_size(const NpyHeader& header, uint64_t available,
                                 const std::string& where);

// Reads the data that follows `header` (exactly its size) into a plain C-order CPU tensor of
// header.dtype.
absl::StatusOr<Tensor> read_npy_data(const NpyHeader& header, const ReadExactly& read,
                                     const std::string& where);

// The header (magic to '\n') numpy would write for this dtype and shape: version 1.0 unless the
// dict needs 2.0. Fails for dtypes .npy cannot name (bfloat16).
absl::StatusOr<std::string> encode_npy_header(DType dtype, const Shape& shape);

}  // namespace bitgrad
