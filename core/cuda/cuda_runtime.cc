// The DeviceRuntime for DeviceType::kCUDA: allocation, copies and zero-fill of device memory.
// Linking //core/cuda:runtime registers it (a static initialiser below); no CUDA call happens
// until a CUDA tensor is made, so programs run on machines without a GPU until they ask for one.
//
// All work goes to each device's legacy default stream, which orders it: a block freed by one
// tensor and reused by the next is only touched after the earlier kernels are done with it.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <cuda_runtime_api.h>

#include "core/check.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_device.h"
#include "core/cuda/cuda_memory.h"
#include "core/storage.h"

namespace bitgrad {
namespace {

// cudaMalloc aligns to 256 bytes; rounding to 512 keeps nearby sizes in one free list.
constexpr size_t kCudaGranule = 512;

class CudaRuntime final : public DeviceRuntime {
 public:
  CudaRuntime() {
    const char* env = std::getenv("BITGRAD_CUDA_CACHE");
    caching_ = !(env && std::strcmp(env, "0") == 0);
  }

  void* allocate(size_t nbytes, int device_index) override {
    set_current_cuda_device(device_index);  // throws when there is no usable GPU
    size_t size = round_up(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    Pool& pool = pools_[device_index];
    auto it = pool.free.find(size);
    if (it != pool.free.end() && !it->second.empty()) {
      void* ptr = it->second.back();
      it->second.pop_back();
      pool.stats.bytes_cached -= size;
      note_in_use(pool, size);
      return ptr;
    }
    void* ptr = nullptr;
    cudaError_t status = cudaMalloc(&ptr, size);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      release_cached_locked(device_index, pool);  // try once more with the cache handed back
      status = cudaMalloc(&ptr, size);
    }
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      BG_CHECK(false, "out of CUDA memory on cuda:", device_index, " allocating ", nbytes,
               " bytes (", pool.stats.bytes_in_use, " bytes already in use by tensors)");
    }
    CUDA_CHECK(status);
    note_in_use(pool, size);
    return ptr;
  }

  // Called from ~Storage, so it must not throw: a failed cudaFree is reported, not raised.
  void deallocate(void* ptr, size_t nbytes, int device_index) override {
    size_t size = round_up(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    Pool& pool = pools_[device_index];
    pool.stats.bytes_in_use -= size;
    if (caching_) {
      pool.free[size].push_back(ptr);
      pool.stats.bytes_cached += size;
      return;
    }
    free_quietly(ptr, device_index);
  }

  void copy(void* dst, Device dst_device, const void* src, Device src_device,
            size_t nbytes) override {
    if (dst_device.is_cuda() && src_device.is_cuda()) {
      if (dst_device.index == src_device.index) {
        set_current_cuda_device(dst_device.index);
        CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToDevice));
      } else {
        set_current_cuda_device(src_device.index);  // validates both indices
        set_current_cuda_device(dst_device.index);
        CUDA_CHECK(cudaMemcpyPeer(dst, dst_device.index, src, src_device.index, nbytes));
      }
    } else if (dst_device.is_cuda()) {
      set_current_cuda_device(dst_device.index);
      CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice));
    } else {
      BG_ASSERT(src_device.is_cuda(), "a CPU-to-CPU copy reached the CUDA runtime");
      set_current_cuda_device(src_device.index);
      CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost));
    }
  }

  void fill_zero(void* ptr, size_t nbytes, int device_index) override {
    set_current_cuda_device(device_index);
    CUDA_CHECK(cudaMemset(ptr, 0, nbytes));
  }

  void synchronize(int device_index) override {
    set_current_cuda_device(device_index);
    CUDA_CHECK(cudaDeviceSynchronize());
  }

  CudaMemoryStats stats(int device_index) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = pools_.find(device_index);
    return it == pools_.end() ? CudaMemoryStats{} : it->second.stats;
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [device_index, pool] : pools_) release_cached_locked(device_index, pool);
  }

 private:
  struct Pool {  // one per device
    std::unordered_map<size_t, std::vector<void*>> free;
    CudaMemoryStats stats;
  };

  static size_t round_up(size_t nbytes) {
    size_t n = nbytes == 0 ? 1 : nbytes;  // distinct non-null pointers even for empty tensors
    return (n + kCudaGranule - 1) / kCudaGranule * kCudaGranule;
  }

  static void note_in_use(Pool& pool, size_t size) {
    pool.stats.bytes_in_use += size;
    pool.stats.peak_bytes_in_use = std::max(pool.stats.peak_bytes_in_use, pool.stats.bytes_in_use);
  }

  static void free_quietly(void* ptr, int device_index) {
    cudaError_t status = cudaSetDevice(device_index);
    if (status == cudaSuccess) status = cudaFree(ptr);
    if (status != cudaSuccess) {
      cudaGetLastError();
      std::fprintf(stderr, "bitgrad: cudaFree on cuda:%d failed: %s (%s)\n", device_index,
                   cudaGetErrorName(status), cudaGetErrorString(status));
    }
  }

  static void release_cached_locked(int device_index, Pool& pool) {
    for (auto& [size, ptrs] : pool.free) {
      for (void* ptr : ptrs) free_quietly(ptr, device_index);
    }
    pool.free.clear();
    pool.stats.bytes_cached = 0;
  }

  std::mutex mutex_;
  bool caching_ = true;
  std::unordered_map<int, Pool> pools_;
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
