#include "core/cuda/cuda_device.h"

#include <cuda_runtime_api.h>

#include "core/check.h"
#include "core/cuda/cuda_check.h"

namespace bitgrad {
namespace {

struct Availability {
  int device_count = 0;
  std::string why_not;  // empty when device_count > 0
};

// Asked once: the answer (driver present, devices visible) does not change while we run.
const Availability& availability() {
  static const Availability* result = [] {
    auto* a = new Availability();
    cudaError_t status = cudaGetDeviceCount(&a->device_count);
    if (status != cudaSuccess) {
      cudaGetLastError();  // do not let this failure resurface in a later CUDA_CHECK
      a->device_count = 0;
      a->why_not = detail::str_cat("no usable CUDA device (", cudaGetErrorName(status), ": ",
                                   cudaGetErrorString(status), ")");
    } else if (a->device_count == 0) {
      a->why_not = "no usable CUDA device (cudaGetDeviceCount found none)";
    }
    return a;
  }();
  return *result;
}

}  // namespace

int cuda_device_count() { return availability().device_count; }

bool cuda_available(std::string* why_not) {
  const Availability& a = availability();
  if (why_not != nullptr) *why_not = a.why_not;
  return a.device_count > 0;
}

void set_current_cuda_device(int index) {
  const Availability& a = availability();
  BG_CHECK(a.device_count > 0, "cuda:", index, ": ", a.why_not);
  BG_CHECK(index >= 0 && index < a.device_count, "cuda:", index, " does not exist: this machine ",
           "has ", a.device_count, " CUDA device(s), cuda:0 to cuda:", a.device_count - 1);
  int current = -1;
  CUDA_CHECK(cudaGetDevice(&current));
  if (current != index) CUDA_CHECK(cudaSetDevice(index));
}

}  // namespace bitgrad
