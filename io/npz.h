// NumPy .npz archives: a zip (stored or deflated, zip64 or not) of .npy files, one per array, as
// np.savez / np.savez_compressed write them. The zip side is libzip; each entry's .npy header is
// read by io/npy.h.
//
// Every error is an absl::Status whose message names the file and, where there is one, the
// array's key: not a zip, truncated, a missing array, a bad header, an unsupported dtype. Arrays
// are read as io/npy.h reads them: any element order, numpy's bool/integer/float dtypes. Keys are
// the entry names without ".npy" ("resnet/group_norm/gamma"); entries that are not .npy files
// (directories, stray files) are ignored, as np.load ignores them.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "io/npy.h"

namespace bitgrad {

struct NpzArrayInfo {
  std::string key;
  DType dtype;  // as read (npy_read_dtype)
  Shape shape;
  NpyElement stored;
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
  // The array as a plain C-order CPU tensor of its dtype and shape.
  absl::StatusOr<Tensor> read(const std::string& key) const;
  // The same as `dtype`, where every stored value converts exactly (npy_array_as).
  absl::StatusOr<Tensor> read(const std::string& key, DType dtype) const;

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
// file appears atomically (io/atomic_file.h), so a crash never leaves a half-written archive
// behind. Entries carry a fixed timestamp, so the same arrays always give the same bytes.
absl::Status write_npz(const std::string& path, const NamedArrays& arrays,
                       NpzCompression compression = NpzCompression::kStored);

}  // namespace bitgrad
