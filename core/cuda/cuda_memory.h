// The CUDA allocator's statistics (the allocator is cuda_runtime.cc over block_cache.h).
//
// Device memory is cached by size class and reused, like CPU memory (core/storage.h): cudaMalloc
// and cudaFree are slow and cudaFree synchronises the device, so a training step that frees and
// reallocates the same buffers every step must not call them. BITGRAD_CUDA_CACHE=0 turns caching
// off (for compute-sanitizer).
#pragma once

#include <cstddef>

namespace bitgrad {

struct CudaMemoryStats {
  size_t bytes_in_use = 0;
  size_t bytes_cached = 0;  // freed by tensors, kept for reuse
  size_t peak_bytes_in_use = 0;
  size_t driver_allocations = 0;  // cudaMalloc calls so far; flat in a steady training loop
};

// Zeros for a device that was never used (or does not exist).
CudaMemoryStats cuda_memory_stats(int device_index = 0);
// Returns every cached block on every device to the driver (cudaFree).
void cuda_empty_cache();

}  // namespace bitgrad
