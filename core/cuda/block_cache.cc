#include "core/cuda/block_cache.h"

#include <algorithm>

namespace bitgrad {
namespace {

constexpr size_t kGranule = 512;  // cudaMalloc aligns to 256; 512 keeps nearby sizes together
constexpr size_t kFineLimit = size_t{1} << 20;

}  // namespace

size_t BlockCache::size_class(size_t nbytes) {
  size_t n = std::max<size_t>(nbytes, 1);  // distinct non-null blocks even for empty tensors
  if (n <= kFineLimit) return (n + kGranule - 1) / kGranule * kGranule;
  size_t top = size_t{1} << 20;  // the largest power of two <= n
  while (top <= n / 2) top *= 2;
  size_t step = top / 4;
  return (n + step - 1) / step * step;
}

void* BlockCache::allocate(size_t nbytes) {
  size_t size = size_class(nbytes);
  auto it = free_.find(size);
  void* ptr = nullptr;
  if (it != free_.end() && !it->second.empty()) {
    ptr = it->second.back();
    it->second.pop_back();
    stats_.bytes_cached -= size;
  } else {
    ptr = raw_->allocate(size);
    if (ptr == nullptr && stats_.bytes_cached > 0) {
      release_cached();  // memory is there, just parked in other size classes
      ptr = raw_->allocate(size);
    }
    if (ptr == nullptr) return nullptr;
    ++stats_.driver_allocations;
  }
  stats_.bytes_in_use += size;
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  return ptr;
}

void BlockCache::deallocate(void* ptr, size_t nbytes) {
  size_t size = size_class(nbytes);
  stats_.bytes_in_use -= size;
  if (!caching_) {
    raw_->free(ptr);
    return;
  }
  free_[size].push_back(ptr);
  stats_.bytes_cached += size;
}

void BlockCache::release_cached() {
  for (auto& [size, blocks] : free_) {
    for (void* ptr : blocks) raw_->free(ptr);
  }
  free_.clear();
  stats_.bytes_cached = 0;
}

}  // namespace bitgrad
