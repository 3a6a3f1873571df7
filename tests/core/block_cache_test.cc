// The CUDA caching allocator's bookkeeping (core/cuda/block_cache.h), driven by a fake device
// memory, so it runs on every machine.
#include "core/cuda/block_cache.h"

#include <cstdint>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace bitgrad {
namespace {

// Hands out fake addresses and counts calls; `capacity` bytes at most, like a small GPU.
class FakeDeviceMemory : public RawMemory {
 public:
  explicit FakeDeviceMemory(size_t capacity) : capacity_(capacity) {}
  void* allocate(size_t nbytes) override {
    if (used_ + nbytes > capacity_) return nullptr;
    used_ += nbytes;
    ++allocations;
    next_ += nbytes + 4096;
    sizes_[next_] = nbytes;
    live.insert(next_);
    return reinterpret_cast<void*>(next_);
  }
  void free(void* ptr) override {
    auto address = reinterpret_cast<uintptr_t>(ptr);
    ASSERT_EQ(live.erase(address), 1u) << "freed a block that is not live";
    used_ -= sizes_[address];
    ++frees;
  }
  int allocations = 0;
  int frees = 0;
  std::set<uintptr_t> live;

 private:
  size_t capacity_;
  size_t used_ = 0;
  uintptr_t next_ = 1 << 20;
  std::unordered_map<uintptr_t, size_t> sizes_;
};

TEST(BlockCacheTest, SizeClassesRoundUpByAtMostAQuarter) {
  EXPECT_EQ(BlockCache::size_class(0), 512u);
  EXPECT_EQ(BlockCache::size_class(1), 512u);
  EXPECT_EQ(BlockCache::size_class(512), 512u);
  EXPECT_EQ(BlockCache::size_class(513), 1024u);
  EXPECT_EQ(BlockCache::size_class(1 << 20), size_t{1} << 20);
  EXPECT_EQ(BlockCache::size_class((1 << 20) + 1), size_t{5} << 18);  // 1.25 MiB
  EXPECT_EQ(BlockCache::size_class(size_t{7} << 20), size_t{7} << 20);
  EXPECT_EQ(BlockCache::size_class((size_t{7} << 20) + 1), size_t{8} << 20);
  for (size_t n : {size_t{3} << 20, size_t{123456789}, size_t{5} << 30}) {
    size_t c = BlockCache::size_class(n);
    EXPECT_GE(c, n);
    EXPECT_LE(c, n + n / 4) << n;
    EXPECT_EQ(BlockCache::size_class(c), c) << "a class is its own class";
  }
}

TEST(BlockCacheTest, SteadyStateReusesBlocksWithoutTheDriver) {
  FakeDeviceMemory device(size_t{1} << 30);
  BlockCache cache(&device, /*caching=*/true);
  // A "training step": the same handful of sizes allocated and freed every step, with jitter
  // that stays inside a size class.
  for (int step = 0; step < 5; ++step) {
    std::vector<std::pair<void*, size_t>> live;
    for (size_t n : {size_t{100}, size_t{4000}, size_t{3} << 20, (size_t{3} << 20) - 1000 * step}) {
      live.push_back({cache.allocate(n), n});
    }
    for (auto [ptr, n] : live) cache.deallocate(ptr, n);
  }
  EXPECT_EQ(device.allocations, 4);
  EXPECT_EQ(cache.stats().driver_allocations, 4u);
  EXPECT_EQ(device.frees, 0);
  EXPECT_EQ(cache.stats().bytes_in_use, 0u);
  EXPECT_EQ(cache.stats().bytes_cached, 512u + 4096u + 2 * (size_t{3} << 20));
  cache.release_cached();
  EXPECT_EQ(device.frees, 4);
  EXPECT_TRUE(device.live.empty());
  EXPECT_EQ(cache.stats().bytes_cached, 0u);
}

TEST(BlockCacheTest, TracksCurrentAndPeakBytes) {
  FakeDeviceMemory device(size_t{1} << 30);
  BlockCache cache(&device, true);
  void* a = cache.allocate(1000);  // class 1024
  void* b = cache.allocate(3000);  // class 3072
  EXPECT_NE(a, b);
  EXPECT_EQ(cache.stats().bytes_in_use, 4096u);
  cache.deallocate(a, 1000);
  void* c = cache.allocate(600);  // class 1024 again: a's block
  EXPECT_EQ(c, a);
  EXPECT_EQ(cache.stats().bytes_in_use, 4096u);
  cache.deallocate(b, 3000);
  cache.deallocate(c, 600);
  EXPECT_EQ(cache.stats().bytes_in_use, 0u);
  EXPECT_EQ(cache.stats().peak_bytes_in_use, 4096u);
  EXPECT_EQ(cache.stats().bytes_cached, 4096u);
}

TEST(BlockCacheTest, OutOfMemoryHandsTheCacheBackAndRetriesOnce) {
  FakeDeviceMemory device(size_t{8} << 20);
  BlockCache cache(&device, true);
  void* big = cache.allocate(size_t{6} << 20);
  cache.deallocate(big, size_t{6} << 20);  // cached, but the device has only 2 MiB free
  void* other = cache.allocate(size_t{4} << 20);
  ASSERT_NE(other, nullptr) << "the cached 6 MiB block should have been released";
  EXPECT_EQ(device.frees, 1);
  EXPECT_EQ(cache.stats().bytes_cached, 0u);
  EXPECT_EQ(cache.allocate(size_t{5} << 20), nullptr) << "really out of memory";
  EXPECT_EQ(cache.stats().bytes_in_use, size_t{4} << 20);
  cache.deallocate(other, size_t{4} << 20);
}

TEST(BlockCacheTest, WithoutCachingEveryFreeReachesTheDriver) {
  FakeDeviceMemory device(size_t{1} << 30);
  BlockCache cache(&device, /*caching=*/false);
  for (int i = 0; i < 3; ++i) cache.deallocate(cache.allocate(5000), 5000);
  EXPECT_EQ(device.allocations, 3);
  EXPECT_EQ(device.frees, 3);
  EXPECT_EQ(cache.stats().bytes_cached, 0u);
}

}  // namespace
}  // namespace bitgrad
