#include "ops/cuda/common/gpu_context.h"

#include <climits>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "core/check.h"
#include "core/cuda/cuda_stream.h"
#include "ops/cuda/common/gpu_check.h"

namespace bitgrad::cuda_ops {

const GpuContext& gpu_context(const char* op, Device device) {
  BG_CHECK(device.is_cuda(), op, ": the CUDA kernel got a tensor on ", device);
  cudaStream_t stream = cuda_stream(device.index);  // also makes the device current
  static std::mutex mutex;
  static auto* contexts = new std::unordered_map<int, GpuContext>();  // never destroyed
  std::lock_guard<std::mutex> lock(mutex);
  GpuContext& context = (*contexts)[device.index];
  if (context.cudnn == nullptr) {
    GpuContext created{device.index, stream, nullptr, nullptr};
    try {
      CUDNN_CHECK(op, cudnnCreate(&created.cudnn));
      CUDNN_CHECK(op, cudnnSetStream(created.cudnn, stream));
      CUBLAS_CHECK(op, cublasCreate(&created.cublas));
      CUBLAS_CHECK(op, cublasSetStream(created.cublas, stream));
    } catch (...) {  // the next call tries again from nothing
      if (created.cublas != nullptr) cublasDestroy(created.cublas);
      if (created.cudnn != nullptr) cudnnDestroy(created.cudnn);
      throw;
    }
    context = created;
  }
  return context;
}

Tensor gpu_workspace(size_t nbytes, Device device) {
  return empty({static_cast<int64_t>(nbytes)}, DType::kUInt8, device);
}

int checked_int(const char* op, int64_t value, const char* what) {
  BG_CHECK(value >= 0 && value <= INT_MAX, op, ": ", what, " is ", value,
           ", more than the GPU libraries' int32 limit");
  return static_cast<int>(value);
}

}  // namespace bitgrad::cuda_ops
