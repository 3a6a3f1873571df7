// IDX image and label files (data/idx_dataset.h), plain or gzipped. The input is both files: a
// 4-byte little-endian length, that many bytes of the image file, then the label file.
#include <cstring>

#include "data/idx_dataset.h"
#include "io/file_limits.h"
#include "tests/fuzz/fuzz_support.h"

using namespace bitgrad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemoryFile images_file, labels_file;
  set_max_file_tensor_bytes(fuzz::kFuzzMaxFileTensorBytes);
  uint32_t images_size = 0;
  if (size >= 4) std::memcpy(&images_size, data, 4);
  const size_t header = std::min<size_t>(size, 4);
  const size_t images_bytes = std::min<size_t>(images_size, size - header);
  const std::string& images = images_file.hold(data + header, images_bytes);
  const std::string& labels =
      labels_file.hold(data + header + images_bytes, size - header - images_bytes);
  absl::StatusOr<LabeledImages> read = read_idx_dataset(images, labels);
  if (!read.ok()) {
    const std::string message(read.status().message());
    fuzz::require(absl::StrContains(message, images) || absl::StrContains(message, labels),
                  "the error names neither file: " + message);
    return 0;
  }
  fuzz::require_plain_cpu_tensor(read->images, "images");
  fuzz::require_plain_cpu_tensor(read->labels, "labels");
  fuzz::require(read->images.dtype() == DType::kUInt8 && read->images.dim() == 3,
                "images are not uint8 (N, H, W)");
  fuzz::require(read->labels.dtype() == DType::kInt64 && read->labels.dim() == 1 &&
                    read->labels.shape()[0] == read->images.shape()[0],
                "labels are not int64 (N)");
  return 0;
}
