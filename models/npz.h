// NumPy .npz archives: a zip (stored or deflated, zip64 or not) of .npy files, one per array, as
// np.savez / np.savez_compressed write them. The zip side is libzip; the .npy side is ours.
//
// .npy (format versions 1.0, 2.0 and 3.0): "\x93NUMPY", major, minor, a little-endian header
// length (2 bytes in 1.0, 4 in 2.0/3.0), then a Python dict literal
//   {'descr': '<f4', 'fortran_order': False, 'shape': (7, 7, 3, 64), }
// padded with spaces to a multiple of 64 bytes and ended by '\n', then the raw row-major data.
// Supported descr: '<f4' float32, '<f8' float64, '<i8' int64, '|u1' uint8 (little-endian host).
// Fortran-order arrays are refused rather than silently transposed.
//
// Every error is an absl::Status whose message names the file and, where there is one, the
// array's key: not a zip, truncated, a missing array, a bad header, an unsupported dtype,
// fortran order. Keys are the entry names without ".npy" ("resnet/group_norm/gamma"); entries
// that are not .npy files (directories, stray files) are ignored, as np.load ignores them.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/tensor.h"

namespace bitgrad {

struct NpzArrayInfo {
  std::string key;
  DType dtype;
  Shape shape;
};

// An open .npz: the list of arrays (read from every entry's header when opened) and their data
// on demand, so a loader can check names, shapes and dtypes before reading gigabytes.
class NpzReader {
 public:
  static absl::StatusOr<std::unique_ptr<NpzReader>> open(const std::string& path);
  ~NpzReader();
  NpzReader(const NpzReader&) = delete;
  NpzReader& operator=(const NpzReader&) = delete;

  const std::string& path() const { return path_; }
  // In archive order.
  const std::vector<NpzArrayInfo>& arrays() const { return arrays_; }
  // Null when there is no such array.
  const NpzArrayInfo* find(const std::string& key) const;
  // The array as a plain CPU tensor of its own dtype and shape.
  absl::StatusOr<Tensor> read(const std::string& key) const;

 private:
  struct Entry;
  NpzReader() = default;

  std::string path_;
  struct ZipHandle;
  std::unique_ptr<ZipHandle> zip_;
  std::vector<NpzArrayInfo> arrays_;
  std::vector<Entry> entries_;  // parallel to arrays_
};

using NamedArrays = std::vector<std::pair<std::string, Tensor>>;

// Every array, in archive order.
absl::StatusOr<NamedArrays> read_npz(const std::string& path);

enum class NpzCompression { kStored, kDeflated };  // np.savez / np.savez_compressed

// Writes `arrays` (any device or layout; converted to plain host data) as key.npy entries. The
// file appears atomically: it is written under a temporary name in the same directory and then
// renamed over `path`, so a crash never leaves a half-written archive behind. Entries carry a
// fixed timestamp, so the same arrays always give the same bytes.
absl::Status write_npz(const std::string& path, const NamedArrays& arrays,
                       NpzCompression compression = NpzCompression::kStored);

// ------------------------------------------------------------------------------------------------
// Single .npy files (np.save / np.load), e.g. a batch of inputs or the logits of a prediction run.

// Writes `array` (any device or layout) as one .npy file, atomically (core/atomic_file.h).
absl::Status write_npy(const std::string& path, const Tensor& array);
// Reads a whole .npy file into a plain CPU tensor. Errors name the file: missing, not an .npy
// (an .npz archive is recognised and named as such), a bad header, an unsupported dtype,
// fortran order, truncated data, or bytes after the data.
absl::StatusOr<Tensor> read_npy(const std::string& path);

// ------------------------------------------------------------------------------------------------
// The .npy header on its own, for tests and tools.

struct NpyHeader {
  DType dtype = DType::kFloat32;
  Shape shape;
  size_t data_offset = 0;  // bytes before the data: magic, version, length field, dict
};

// Parses the start of an .npy file (at least the full header). `where` prefixes messages.
absl::StatusOr<NpyHeader> parse_npy_header(const std::string& bytes, const std::string& where);
// The header (magic to '\n') numpy would write for this dtype and shape: version 1.0 unless the
// dict needs 2.0. Fails for dtypes .npy cannot name (bfloat16).
absl::StatusOr<std::string> encode_npy_header(DType dtype, const Shape& shape);

}  // namespace bitgrad
