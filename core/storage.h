// Raw, reference-counted memory on one device. Tensors share a Storage through shared_ptr, so
// views (reshape, flatten, detach) cost nothing and memory is freed with the last user.
//
// Each device type has a DeviceRuntime that allocates, frees and copies its memory. The CPU one
// lives here; the CUDA one lives in //core/cuda and registers itself when linked, so programs and
// tests without CUDA never load the CUDA libraries.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "core/device.h"

namespace bitgrad {

class DeviceRuntime {
 public:
  virtual ~DeviceRuntime() = default;
  virtual void* allocate(size_t nbytes, int device_index) = 0;
  virtual void deallocate(void* ptr, size_t nbytes, int device_index) = 0;
  // Copies nbytes; one side is this runtime's device, the other the same device or the host.
  virtual void copy(void* dst, Device dst_device, const void* src, Device src_device,
                    size_t nbytes) = 0;
  virtual void fill_zero(void* ptr, size_t nbytes, int device_index) = 0;
  virtual void synchronize(int device_index) {}
  // Whether this machine can run the runtime's device; false with the reason in why_not.
  virtual bool available(std::string* why_not) { return true; }
};

void register_device_runtime(DeviceType type, DeviceRuntime* runtime);
// Throws a clear Error when no runtime is linked (e.g. CUDA in a CPU-only build).
DeviceRuntime& device_runtime(DeviceType type);
bool has_device_runtime(DeviceType type);
// Whether tensors of `type` can be made here: a runtime is linked and its device is usable. Needs
// no CUDA headers, so CPU-only programs can ask about a GPU and say why there is none.
bool device_available(DeviceType type, std::string* why_not = nullptr);
// Checks a --device flag: "cpu", or "cuda" on a machine with a usable GPU. The error names the
// flag and says what to use instead. The one check behind every program's --device.
absl::Status check_device_flag(const std::string& value);
// Its first half, which does not look at the machine (for configs checked before a run):
// "cpu" or "cuda".
absl::Status check_device_name(const std::string& value);

class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() { return data_; }
  const void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

  // How many in-place writes (Tensor::copy_, fill_, zero_, an optimizer step) the memory has
  // had: autograd compares it with the count a saved tensor was saved at
  // (autograd/saved_tensor.h), and caches of derived values with the count they were made at.
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  std::atomic<uint64_t> version_{0};
};

// CPU memory is cached by size and reused: a training step allocates the same buffers every
// step, and returning large buffers to the OS (munmap) and faulting them back in costs more than
// the kernels that use them. These report and trim that cache.
struct CpuMemoryStats {
  size_t bytes_in_use = 0;
  size_t bytes_cached = 0;   // freed by tensors, kept for reuse
  size_t peak_bytes_in_use = 0;
};
CpuMemoryStats cpu_memory_stats();
void cpu_empty_cache();
// False where BITGRAD_CPU_CACHE=0 turned the cache off (as --config=asan does for tests).
bool cpu_cache_enabled();

}  // namespace bitgrad
