// .npy files (io/npy.h): any bytes give an array or an error naming the file, never a crash or an
// allocation beyond the limit.
#include "io/file_limits.h"
#include "io/npy.h"
#include "tests/fuzz/fuzz_support.h"

using namespace bitgrad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemoryFile file;
  set_max_file_tensor_bytes(fuzz::kFuzzMaxFileTensorBytes);
  const std::string& path = file.hold(data, size);
  absl::StatusOr<Tensor> array = read_npy(path);
  if (!array.ok()) {
    fuzz::require_names(array.status(), path);
    return 0;
  }
  fuzz::require_plain_cpu_tensor(*array, "read_npy");
  // Every array that reads also reads as float64 or says why not (a value it cannot hold exactly).
  absl::StatusOr<Tensor> as_double = read_npy(path, DType::kFloat64);
  if (as_double.ok()) {
    fuzz::require(as_double->shape() == array->shape(), "read_npy(float64) changed the shape");
    fuzz::require_plain_cpu_tensor(*as_double, "read_npy(float64)");
  } else {
    fuzz::require_names(as_double.status(), path);
  }
  return 0;
}
