// The DeviceRuntime for DeviceType::kCUDA: allocation, copies and zero-fill of device memory.
// Linking //core/cuda:runtime registers it (a static initialiser below); no CUDA call happens
// until a CUDA tensor is made, so programs run on machines without a GPU until they ask for one.
//
// Memory comes from a BlockCache per device (block_cache.h); all work goes to the device's stream
// (cuda_stream.h), which orders it, so a freed block can be handed out again at once.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <cuda_runtime_api.h>

#include "core/check.h"
#include "core/cuda/block_cache.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_device.h"
#include "core/cuda/cuda_memory.h"
#include "core/cuda/cuda_stream.h"
#include "core/storage.h"

namespace bitgrad {
namespace {

class CudaMalloc final : public RawMemory {
 public:
  explicit CudaMalloc(int device_index) : device_index_(device_index) {}

  void* allocate(size_t nbytes) override {
    set_current_cuda_device(device_index_);
    void* ptr = nullptr;
    cudaError_t status = cudaMalloc(&ptr, nbytes);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      return nullptr;
    }
    CUDA_CHECK(status);
    return ptr;
  }

  // Leaves the thread's current device as it was: a tensor freed in the middle of an op on
  // another GPU must not move that op's later calls to this one.
  void free(void* ptr) override {
    int previous = -1;
    if (cudaGetDevice(&previous) != cudaSuccess) previous = -1;
    cudaError_t status = cudaSetDevice(device_index_);
    if (status == cudaSuccess) status = cudaFree(ptr);
    if (previous >= 0 && previous != device_index_) cudaSetDevice(previous);
    if (status != cudaSuccess) {
      cudaGetLastError();
      std::fprintf(stderr, "bitgrad: cudaFree on cuda:%d failed: %s (%s)\n", device_index_,
                   cudaGetErrorName(status), cudaGetErrorString(status));
    }
  }

 private:
  int device_index_;
};

class CudaRuntime final : public DeviceRuntime {
 public:
  CudaRuntime() {
    const char* env = std::getenv("BITGRAD_CUDA_CACHE");
    caching_ = !(env && std::strcmp(env, "0") == 0);
  }

  void* allocate(size_t nbytes, int device_index) override {
    set_current_cuda_device(device_index);  // throws when there is no usable GPU
    std::lock_guard<std::mutex> lock(mutex_);
    Pool& pool = pool_locked(device_index);
    void* ptr = pool.cache.allocate(nbytes);
    if (ptr == nullptr) {
      throw OutOfMemoryError(detail::str_cat(
          "out of CUDA memory on cuda:", device_index, " allocating ", nbytes, " bytes (",
          pool.cache.stats().bytes_in_use, " bytes already in use by tensors)"));
    }
    return ptr;
  }

  // Called from ~Storage, so it must not throw.
  void deallocate(void* ptr, size_t nbytes, int device_index) override {
    std::lock_guard<std::mutex> lock(mutex_);
    pool_locked(device_index).cache.deallocate(ptr, nbytes);
  }

  void copy(void* dst, Device dst_device, const void* src, Device src_device,
            size_t nbytes) override {
    if (dst_device.is_cuda() && src_device.is_cuda()) {
      cudaStream_t stream = cuda_stream(dst_device.index);
      if (dst_device.index == src_device.index) {
        CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, stream));
      } else {
        CUDA_CHECK(cudaStreamSynchronize(cuda_stream(src_device.index)));  // src is written
        CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_device.index, src, src_device.index, nbytes,
                                       stream));
        // The source's block may go back to its GPU's cache as soon as this returns, and that
        // cache hands it out again in the order of the source's stream, not this one.
        CUDA_CHECK(cudaStreamSynchronize(stream));
      }
    } else if (dst_device.is_cuda()) {
      copy_host_to_device_async(dst, dst_device.index, src, nbytes);
    } else {
      BG_ASSERT(src_device.is_cuda(), "a CPU-to-CPU copy reached the CUDA runtime");
      cudaStream_t stream = cuda_stream(src_device.index);
      CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, stream));
      CUDA_CHECK(cudaStreamSynchronize(stream));  // the host reads dst next
    }
  }

  void fill_zero(void* ptr, size_t nbytes, int device_index) override {
    CUDA_CHECK(cudaMemsetAsync(ptr, 0, nbytes, cuda_stream(device_index)));
  }

  void synchronize(int device_index) override {
    set_current_cuda_device(device_index);
    CUDA_CHECK(cudaDeviceSynchronize());
  }

  bool available(std::string* why_not) override { return cuda_available(why_not); }

  CudaMemoryStats stats(int device_index) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = pools_.find(device_index);
    return it == pools_.end() ? CudaMemoryStats{} : it->second->cache.stats();
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [device_index, pool] : pools_) pool->cache.release_cached();
  }

 private:
  struct Pool {  // one per device
    explicit Pool(int device_index, bool caching) : raw(device_index), cache(&raw, caching) {}
    CudaMalloc raw;
    BlockCache cache;
  };

  Pool& pool_locked(int device_index) {
    std::unique_ptr<Pool>& pool = pools_[device_index];
    if (!pool) pool = std::make_unique<Pool>(device_index, caching_);
    return *pool;
  }

  std::mutex mutex_;
  bool caching_ = true;
  std::unordered_map<int, std::unique_ptr<Pool>> pools_;
};

CudaRuntime& cuda_runtime() {
  static CudaRuntime* runtime = new CudaRuntime();  // never destroyed: tensors may outlive main()
  return *runtime;
}

const bool registered = (register_device_runtime(DeviceType::kCUDA, &cuda_runtime()), true);

}  // namespace

CudaMemoryStats cuda_memory_stats(int device_index) { return cuda_runtime().stats(device_index); }
void cuda_empty_cache() { cuda_runtime().empty_cache(); }

}  // namespace bitgrad
