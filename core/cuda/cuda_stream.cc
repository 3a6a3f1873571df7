#include "core/cuda/cuda_stream.h"

#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/cuda/block_cache.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_device.h"

namespace bitgrad {
namespace {

// Above this much idle pinned memory, staging waits for the stream and trims instead of growing.
constexpr size_t kPinnedLimit = size_t{512} << 20;

struct StagingBuffer {
  void* host = nullptr;
  size_t capacity = 0;
  int device_index = 0;
  cudaEvent_t copied = nullptr;  // recorded after the copy out of this buffer
};

class PinnedStaging {
 public:
  void copy(void* dst, int device_index, const void* src, size_t nbytes, cudaStream_t stream) {
    std::lock_guard<std::mutex> lock(mutex_);
    StagingBuffer& buffer = acquire(nbytes, device_index, stream);
    std::memcpy(buffer.host, src, nbytes);
    CUDA_CHECK(cudaMemcpyAsync(dst, buffer.host, nbytes, cudaMemcpyHostToDevice, stream));
    CUDA_CHECK(cudaEventRecord(buffer.copied, stream));
  }

 private:
  static bool idle(const StagingBuffer& b) {
    cudaError_t status = cudaEventQuery(b.copied);
    if (status == cudaErrorNotReady) {
      cudaGetLastError();
      return false;
    }
    CUDA_CHECK(status);
    return true;
  }

  StagingBuffer* find_idle(size_t nbytes, int device_index) {
    StagingBuffer* best = nullptr;
    for (StagingBuffer& b : buffers_) {
      if (b.device_index == device_index && b.capacity >= nbytes &&
          (best == nullptr || b.capacity < best->capacity) && idle(b)) {
        best = &b;
      }
    }
    return best;
  }

  StagingBuffer& acquire(size_t nbytes, int device_index, cudaStream_t stream) {
    if (StagingBuffer* b = find_idle(nbytes, device_index)) return *b;
    if (total_ + nbytes > kPinnedLimit) {
      CUDA_CHECK(cudaStreamSynchronize(stream));  // every earlier copy from staging is done
      trim_idle(device_index);
      if (StagingBuffer* b = find_idle(nbytes, device_index)) return *b;
    }
    StagingBuffer b;
    b.capacity = BlockCache::size_class(nbytes);
    b.device_index = device_index;
    CUDA_CHECK(cudaHostAlloc(&b.host, b.capacity, cudaHostAllocDefault));
    if (const cudaError_t error = cudaEventCreateWithFlags(&b.copied, cudaEventDisableTiming);
        error != cudaSuccess) {
      cudaFreeHost(b.host);  // not yet in buffers_, so nothing else would free it
      detail::throw_cuda_error(error, "cudaEventCreateWithFlags", __FILE__, __LINE__);
    }
    total_ += b.capacity;
    buffers_.push_back(b);
    return buffers_.back();
  }

  void trim_idle(int device_index) {
    std::vector<StagingBuffer> kept;
    for (StagingBuffer& b : buffers_) {
      if (b.device_index == device_index && idle(b)) {
        CUDA_CHECK(cudaEventDestroy(b.copied));
        CUDA_CHECK(cudaFreeHost(b.host));
        total_ -= b.capacity;
      } else {
        kept.push_back(b);
      }
    }
    buffers_ = std::move(kept);
  }

  std::mutex mutex_;
  std::vector<StagingBuffer> buffers_;
  size_t total_ = 0;
};

}  // namespace

cudaStream_t cuda_stream(int device_index) {
  set_current_cuda_device(device_index);
  static std::mutex mutex;
  static auto* streams = new std::unordered_map<int, cudaStream_t>();  // outlives static tensors
  std::lock_guard<std::mutex> lock(mutex);
  cudaStream_t& stream = (*streams)[device_index];
  if (stream == nullptr) CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamDefault));
  return stream;
}

void copy_host_to_device_async(void* dst, int device_index, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  cudaStream_t stream = cuda_stream(device_index);
  static auto* staging = new PinnedStaging();
  staging->copy(dst, device_index, src, nbytes, stream);
}

}  // namespace bitgrad
