// BlockCache: the bookkeeping of the CUDA caching allocator, apart from CUDA so that it can be
// tested on any machine (tests/core/block_cache_test.cc drives it with a fake RawMemory).
//
// Requests are rounded up to a size class: multiples of 512 bytes up to 1 MiB, then four classes
// per doubling (1, 1.25, 1.5, 1.75 MiB, 2, 2.5, ...), so at most 25% is wasted and a training
// step that asks for nearly the same sizes every step reuses the same blocks. A freed block goes
// to its class's free list; RawMemory (cudaMalloc/cudaFree) is called only when that list is
// empty, and on failure the whole cache is handed back once before giving up.
//
// Not thread-safe: the caller (cuda_runtime.cc) holds a lock.
#pragma once

#include <cstddef>
#include <unordered_map>
#include <vector>

#include "core/cuda/cuda_memory.h"

namespace bitgrad {

class RawMemory {
 public:
  virtual ~RawMemory() = default;
  // nullptr when the device is out of memory; other failures throw.
  virtual void* allocate(size_t nbytes) = 0;
  // Must not throw (it runs from destructors): reports failures itself.
  virtual void free(void* ptr) = 0;
};

class BlockCache {
 public:
  // `caching` false frees every block at once (for compute-sanitizer and leak hunts).
  BlockCache(RawMemory* raw, bool caching) : raw_(raw), caching_(caching) {}

  // nullptr when even an emptied cache leaves the device out of memory.
  void* allocate(size_t nbytes);
  // `nbytes` as passed to allocate().
  void deallocate(void* ptr, size_t nbytes);
  // Hands every cached block back to RawMemory.
  void release_cached();
  const CudaMemoryStats& stats() const { return stats_; }

  // The size class a request of `nbytes` is served from (>= nbytes, > 0).
  static size_t size_class(size_t nbytes);

 private:
  RawMemory* raw_;
  bool caching_;
  std::unordered_map<size_t, std::vector<void*>> free_;  // size class -> free blocks
  CudaMemoryStats stats_;
};

}  // namespace bitgrad
