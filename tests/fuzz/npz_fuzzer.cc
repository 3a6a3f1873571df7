// .npz archives (io/npz.h) and the dataset .npz layout on top of them (data/keras_npz.h): any bytes
// give arrays or an error naming the file, never a crash or an allocation beyond the limit.
#include "data/keras_npz.h"
#include "io/file_limits.h"
#include "io/npz.h"
#include "tests/fuzz/fuzz_support.h"

using namespace bitgrad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemoryFile file;
  set_max_file_tensor_bytes(fuzz::kFuzzMaxFileTensorBytes);
  const std::string& path = file.hold(data, size);
  absl::StatusOr<std::unique_ptr<NpzReader>> npz = NpzReader::open(path);
  if (!npz.ok()) {
    fuzz::require_names(npz.status(), path);
    return 0;
  }
  for (const NpzArrayInfo& info : (*npz)->arrays()) {
    fuzz::require((*npz)->find(info.key) != nullptr, "find() misses listed key " + info.key);
    absl::StatusOr<Tensor> array = (*npz)->read(info.key);
    if (!array.ok()) {
      fuzz::require_names(array.status(), path);
      continue;
    }
    fuzz::require(array->shape() == info.shape && array->dtype() == info.dtype,
                  "array " + info.key + " differs from its listed header");
    fuzz::require_plain_cpu_tensor(*array, info.key);
  }
  absl::StatusOr<Dataset> dataset = read_keras_npz(path);
  if (!dataset.ok()) {
    fuzz::require_names(dataset.status(), path);
    return 0;
  }
  for (const ImageSet* split : {&dataset->train, &dataset->test}) {
    fuzz::require_plain_cpu_tensor(split->pixels, "dataset pixels");
    fuzz::require(split->pixels.shape()[0] == split->size(), "pixels and labels differ in count");
    for (int64_t label : split->labels) {
      fuzz::require(label >= 0 && label < split->num_classes(), "label out of range");
    }
  }
  return 0;
}
