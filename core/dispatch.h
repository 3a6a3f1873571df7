// Kernel slots: how an op finds the kernel for its tensors' device.
//
// A slot is a typed function signature with one entry per backend:
//
//   BG_KERNEL_SLOT(ReluFwd, Tensor(const Tensor& x));       // ops/elementwise.h
//   BG_REGISTER_KERNEL(ReluFwd, kRef, relu_fwd_ref);        // ops/ref/elementwise_ref.cc
//   Tensor y = call<ReluFwd>(x);                            // ops/elementwise.cc
//
// call<Slot>() picks the backend from the tensors' device: CUDA tensors run the kCuda kernel;
// CPU tensors run kCpu when registered and kRef otherwise. It never falls back from GPU to CPU,
// and rejects tensors on different devices. A BackendOverride forces a backend, kRef in tests and
// teaching.
//
// Kernels see plain (row-major) tensors unless registered with BG_REGISTER_LAYOUT_AWARE_KERNEL;
// the dispatcher converts opaque-layout inputs for plain-only kernels (core/layout.h).
//
// Registration is a static initialiser, so kernel libraries must be linked with alwayslink.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "core/profiler.h"
#include "core/tensor.h"

namespace bitgrad {

enum class Backend : uint8_t { kRef, kCpu, kCuda };
constexpr int kNumBackends = 3;
const char* backend_name(Backend backend);  // "ref", "cpu", "cuda"

enum class LayoutSupport : uint8_t { kPlainOnly, kAnyLayout };

// Forces every call<>() on this thread, while in scope, onto `backend` (for CPU tensors).
class BackendOverride {
 public:
  explicit BackendOverride(Backend backend);
  ~BackendOverride();
  BackendOverride(const BackendOverride&) = delete;
  BackendOverride& operator=(const BackendOverride&) = delete;

 private:
  int previous_;
};

// The op x backend table of every slot linked into this program, for docs and debugging:
//   GroupNormFwd   ref  cpu  cuda
std::string registry_dump();
// Names of the declared slots with no kRef kernel (a test asserts this list is empty).
std::vector<std::string> slots_missing_reference_kernel();

namespace detail {

bool note_slot(const char* slot_name);
void note_kernel(const char* slot_name, Backend backend, const char* source_file);
[[noreturn]] void throw_duplicate_kernel(const char* slot_name, Backend backend,
                                         const char* source_file);
// Chooses the backend for `device` given which backends `registered` has; throws a clear
// Error if none fits.
Backend select_backend(const char* slot_name, Device device,
                       const std::array<bool, kNumBackends>& registered);
[[noreturn]] void throw_device_mismatch(const char* slot_name, Device first, Device other);

// Visits the tensors among a call's arguments: Tensor and std::vector<Tensor>.
struct DeviceScan {
  const char* slot_name;
  bool found = false;
  Device device;
  void visit(const Tensor& t) {
    if (!t.defined()) return;
    if (!found) {
      found = true;
      device = t.device();
    } else if (t.device() != device) {
      throw_device_mismatch(slot_name, device, t.device());
    }
  }
  void visit(const std::vector<Tensor>& ts) {
    for (const Tensor& t : ts) visit(t);
  }
  template <typename T>
  void visit(const T& value) {
    // What converts to a Tensor (autograd's SavedTensor) is one; other arguments are not.
    if constexpr (std::is_convertible_v<const T&, const Tensor&>) {
      visit(static_cast<const Tensor&>(value));
    }
  }
};

inline Tensor plain(const Tensor& t) { return t.defined() ? t.to_plain() : t; }
inline std::vector<Tensor> plain(const std::vector<Tensor>& ts) {
  std::vector<Tensor> out;
  out.reserve(ts.size());
  for (const Tensor& t : ts) out.push_back(plain(t));
  return out;
}
template <typename T, typename = std::enable_if_t<!std::is_convertible_v<const T&, const Tensor&>>>
const T& plain(const T& value) {
  return value;
}

}  // namespace detail

template <typename Slot, typename Signature>
class KernelSlot;

template <typename Slot, typename Result, typename... Params>
class KernelSlot<Slot, Result(Params...)> {
 public:
  using Fn = Result (*)(Params...);
  struct Entry {
    Fn fn = nullptr;
    LayoutSupport layouts = LayoutSupport::kPlainOnly;
  };

  static Entry& entry(Backend backend) { return table()[static_cast<int>(backend)]; }

  static bool register_kernel(Backend backend, Fn fn, LayoutSupport layouts, const char* file) {
    Entry& e = entry(backend);
    if (e.fn != nullptr) detail::throw_duplicate_kernel(Slot::kName, backend, file);
    e = Entry{fn, layouts};
    detail::note_kernel(Slot::kName, backend, file);
    return true;
  }

  static std::array<bool, kNumBackends> registered() {
    std::array<bool, kNumBackends> mask{};
    for (int b = 0; b < kNumBackends; ++b) mask[b] = table()[b].fn != nullptr;
    return mask;
  }

 private:
  static std::array<Entry, kNumBackends>& table() {
    static std::array<Entry, kNumBackends> kernels{};
    return kernels;
  }
};

// Runs the kernel registered in `Slot` for the arguments' device (see the file comment).
template <typename Slot, typename... Args>
decltype(auto) call(const Args&... args) {
  detail::DeviceScan scan{Slot::kName};
  (scan.visit(args), ...);
  Device device = scan.found ? scan.device : Device::cpu();
  Backend backend = detail::select_backend(Slot::kName, device, Slot::registered());
  const auto& entry = Slot::entry(backend);
  std::optional<detail::KernelTimer> timer;
  if (detail::profiler_running) timer.emplace(Slot::kName, backend_name(backend));
  if (entry.layouts == LayoutSupport::kPlainOnly) return entry.fn(detail::plain(args)...);
  return entry.fn(args...);
}

}  // namespace bitgrad

#define BG_CONCAT_INNER(a, b) a##b
#define BG_CONCAT(a, b) BG_CONCAT_INNER(a, b)

// Declares a kernel slot: BG_KERNEL_SLOT(Name, ReturnType(ParamTypes...)).
#define BG_KERNEL_SLOT(Name, ...)                                                        \
  struct Name : ::bitgrad::KernelSlot<Name, __VA_ARGS__> {                               \
    static constexpr const char* kName = #Name;                                          \
    static inline const bool declared = ::bitgrad::detail::note_slot(kName);             \
  }

// Registers `fn` as the `backend` (kRef, kCpu or kCuda) kernel of `Slot`; plain inputs only.
#define BG_REGISTER_KERNEL(Slot, backend, fn)                                            \
  static const bool BG_CONCAT(bg_kernel_registered_, __COUNTER__) =                      \
      Slot::register_kernel(::bitgrad::Backend::backend, fn,                             \
                            ::bitgrad::LayoutSupport::kPlainOnly, __FILE__)

// Same, for kernels that accept opaque-layout tensors and handle the layout themselves.
#define BG_REGISTER_LAYOUT_AWARE_KERNEL(Slot, backend, fn)                               \
  static const bool BG_CONCAT(bg_kernel_registered_, __COUNTER__) =                      \
      Slot::register_kernel(::bitgrad::Backend::backend, fn,                             \
                            ::bitgrad::LayoutSupport::kAnyLayout, __FILE__)
