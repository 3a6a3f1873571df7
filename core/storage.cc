#include "core/storage.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/check.h"

namespace bitgrad {
namespace {

constexpr size_t kCpuAlignment = 64;  // a cache line; also what AVX-512 loads like
// Blocks this large are mapped from the OS directly and unmapped when freed, so memory the cache
// gives back really leaves the process instead of fragmenting malloc's heap.
constexpr size_t kMapThreshold = size_t{1} << 20;
// The cache may hold the footprint up to this multiple of the peak of live bytes. Forward and
// backward, and the stages of a network, allocate different sizes; with too little headroom the
// blocks one phase freed crowd out the next phase's sizes, and every step maps and faults in
// fresh pages. Measured on BiT-R50x1 (page faults per step, peak RSS; training batch 16,
// inference batch 32):
//   exact fit, headroom 1.0: training ~170k, 750 MB;  inference ~73k, 386 MB
//   exact fit, headroom 2.0: training ~550,  912 MB;  inference 0,    581 MB
//   fit up to 2x, headroom 1.0: training ~52k, 834 MB;  inference ~65k, 402 MB
//   fit up to 2x, headroom 1.5: training ~750, 848 MB;  inference ~0,   463 MB   <- this
// and evicting the oldest cached blocks to make room (make_room_locked) left both where they
// were (~330 against ~300, ~6 against ~5 on another CPU) while a sweep over growing sizes stopped
// faulting in every block anew (gn_bench's "plain tensors" at 33.6 MB: 14.1 -> 2.2 ms).
// Faulting costs 15-20% of a step. PyTorch peaks at ~1550 MB and 560-770 MB on the same runs.
constexpr double kCacheHeadroom = 1.5;

void* system_allocate(size_t size) {
  if (size < kMapThreshold) return std::aligned_alloc(kCpuAlignment, size);
  void* ptr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return ptr == MAP_FAILED ? nullptr : ptr;
}

void system_free(void* ptr, size_t size) {
  if (size < kMapThreshold) {
    std::free(ptr);
  } else {
    munmap(ptr, size);
  }
}

// Free lists by block size. Steady-state training asks for the same sizes every step, so exact
// matches reuse almost everything without the waste of power-of-two buckets; a large request
// with no exact match takes the smallest cached block up to twice its size, which lets the
// blocks of a network's early stages serve its later, smaller ones. The footprint (live plus
// cached bytes) is capped at kCacheHeadroom times the peak of live bytes; a block, freed or newly
// mapped, that would pass the cap evicts the blocks cached longest ago.
// BITGRAD_CPU_CACHE=0 turns caching off (useful under AddressSanitizer or valgrind).
class CpuRuntime final : public DeviceRuntime {
 public:
  CpuRuntime() {
    const char* env = std::getenv("BITGRAD_CPU_CACHE");
    caching_ = !(env && std::strcmp(env, "0") == 0);
  }

  void* allocate(size_t nbytes, int) override {
    size_t size = round_up(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    void* ptr = nullptr;
    auto it = free_.lower_bound(size);
    // An exact fit, or for a large request a cached block up to twice its size: later stages of
    // a network ask for smaller blocks than earlier ones freed.
    bool fits = it != free_.end() &&
                (it->first == size || (size >= kMapThreshold && it->first <= 2 * size));
    if (fits) {
      ptr = it->second.back().ptr;  // the most recently freed: likeliest still in the caches
      freed_order_.erase(it->second.back().freed_at);
      it->second.pop_back();
      stats_.bytes_cached -= it->first;
      if (it->first != size) oversized_[ptr] = it->first;
      size = it->first;
      if (it->second.empty()) free_.erase(it);
    } else {
      // A fresh block counts against the cap too: older cached blocks make way for it.
      const size_t peak_after = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use + size);
      make_room_locked(size, kCacheHeadroom * peak_after);
      ptr = system_allocate(size);
      if (ptr == nullptr) {
        release_cached_locked();  // try once more with the cache handed back
        ptr = system_allocate(size);
      }
      if (ptr == nullptr) {
        throw OutOfMemoryError(detail::str_cat("out of CPU memory allocating ", nbytes, " bytes"));
      }
    }
    stats_.bytes_in_use += size;
    stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
    return ptr;
  }

  void deallocate(void* ptr, size_t nbytes, int) override {
    size_t size = round_up(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto block = oversized_.find(ptr); block != oversized_.end()) {
      size = block->second;
      oversized_.erase(block);
    }
    stats_.bytes_in_use -= size;
    // Keep the block only while live plus cached bytes stay within the headroom over the
    // high-water mark of live bytes: a training step, which frees and reallocates the same sizes
    // under that mark, reuses everything, and a program whose sizes keep changing does not grow
    // without bound. To make room, the blocks that have waited longest go first.
    double limit = kCacheHeadroom * stats_.peak_bytes_in_use;
    if (!caching_ || stats_.bytes_in_use + size > limit) {
      system_free(ptr, size);
      return;
    }
    make_room_locked(size, limit);
    free_[size].push_back({ptr, next_free_});
    freed_order_.emplace(next_free_++, size);
    stats_.bytes_cached += size;
  }

  void copy(void* dst, Device, const void* src, Device, size_t nbytes) override {
    std::memcpy(dst, src, nbytes);
  }
  void fill_zero(void* ptr, size_t nbytes, int) override { std::memset(ptr, 0, nbytes); }

  bool caching() const { return caching_; }

  CpuMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }
  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached_locked();
  }

 private:
  static size_t round_up(size_t nbytes) {
    size_t n = nbytes == 0 ? 1 : nbytes;
    return (n + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
  }
  void release_cached_locked() {
    for (auto& [size, blocks] : free_) {
      for (CachedBlock block : blocks) system_free(block.ptr, size);
    }
    free_.clear();
    freed_order_.clear();
    stats_.bytes_cached = 0;
  }
  // Releases the blocks cached longest ago until `incoming` more bytes fit under `limit`.
  void make_room_locked(size_t incoming, double limit) {
    while (stats_.bytes_cached > 0 &&
           stats_.bytes_in_use + stats_.bytes_cached + incoming > limit) {
      release_oldest_locked();
    }
  }
  // Each size's list is in the order its blocks were freed, so the oldest block of all is at the
  // front of the list freed_order_ names first.
  void release_oldest_locked() {
    auto oldest = freed_order_.begin();
    auto blocks = free_.find(oldest->second);
    system_free(blocks->second.front().ptr, blocks->first);
    stats_.bytes_cached -= blocks->first;
    blocks->second.erase(blocks->second.begin());
    if (blocks->second.empty()) free_.erase(blocks);
    freed_order_.erase(oldest);
  }

  struct CachedBlock {
    void* ptr;
    uint64_t freed_at;  // a count of cached frees, the block's key in freed_order_
  };

  std::mutex mutex_;
  bool caching_ = true;
  std::map<size_t, std::vector<CachedBlock>> free_;  // by block size, ascending
  std::map<uint64_t, size_t> freed_order_;          // every cached block's size, oldest first
  uint64_t next_free_ = 0;
  std::unordered_map<void*, size_t> oversized_;   // blocks handed out larger than asked: their size
  CpuMemoryStats stats_;
};

CpuRuntime& cpu_runtime() {
  static CpuRuntime* runtime = new CpuRuntime();  // never destroyed: tensors may outlive main()
  return *runtime;
}

DeviceRuntime*& runtime_slot(DeviceType type) {
  static DeviceRuntime* slots[2] = {&cpu_runtime(), nullptr};
  return slots[static_cast<int>(type)];
}

}  // namespace

void register_device_runtime(DeviceType type, DeviceRuntime* runtime) {
  runtime_slot(type) = runtime;
}

bool has_device_runtime(DeviceType type) { return runtime_slot(type) != nullptr; }

bool device_available(DeviceType type, std::string* why_not) {
  DeviceRuntime* runtime = runtime_slot(type);
  if (runtime == nullptr) {
    if (why_not != nullptr) {
      *why_not = "this program was built without CUDA (no CUDA toolkit at configure time)";
    }
    return false;
  }
  return runtime->available(why_not);
}

absl::Status check_device_name(const std::string& value) {
  if (value != "cpu" && value != "cuda") {
    return absl::InvalidArgumentError(
        absl::StrCat("--device: expected cpu or cuda, got \"", value, "\""));
  }
  return absl::OkStatus();
}

absl::Status check_device_flag(const std::string& value) {
  if (absl::Status status = check_device_name(value); !status.ok()) return status;
  std::string why_not;
  if (value == "cuda" && !device_available(DeviceType::kCUDA, &why_not)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--device=cuda: this machine has no usable GPU (", why_not, "); use --device=cpu"));
  }
  return absl::OkStatus();
}

DeviceRuntime& device_runtime(DeviceType type) {
  DeviceRuntime* runtime = runtime_slot(type);
  BG_CHECK(runtime != nullptr,
           "this program was built without CUDA support: add //core/cuda:runtime to its deps");
  return *runtime;
}

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = device_runtime(device.type).allocate(nbytes, device.index);
}

Storage::~Storage() { device_runtime(device_.type).deallocate(data_, nbytes_, device_.index); }

CpuMemoryStats cpu_memory_stats() { return cpu_runtime().stats(); }
void cpu_empty_cache() { cpu_runtime().empty_cache(); }
bool cpu_cache_enabled() { return cpu_runtime().caching(); }

}  // namespace bitgrad
