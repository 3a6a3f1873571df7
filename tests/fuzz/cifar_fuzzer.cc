// CIFAR-10/100 binary batches (data/cifar.h). The first byte picks the kind (even: CIFAR-10,
// odd: CIFAR-100); the rest is the file.
#include "data/cifar.h"
#include "tests/fuzz/fuzz_support.h"

using namespace bitgrad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemoryFile file;
  if (size == 0) return 0;
  const CifarKind kind = data[0] % 2 == 0 ? CifarKind::kCifar10 : CifarKind::kCifar100;
  const std::string& path = file.hold(data + 1, size - 1);
  absl::StatusOr<ImageSet> read = read_cifar_files(kind, {path});
  if (!read.ok()) {
    fuzz::require_names(read.status(), path);
    return 0;
  }
  fuzz::require_plain_cpu_tensor(read->pixels, "pixels");
  const Shape& shape = read->pixels.shape();
  fuzz::require(shape.rank() == 4 && shape[0] == read->size() && shape[1] == 32 &&
                    shape[2] == 32 && shape[3] == 3,
                "pixels are not (N, 32, 32, 3)");
  for (int64_t label : read->labels) {
    fuzz::require(label >= 0 && label < read->num_classes(), "label out of range");
  }
  return 0;
}
