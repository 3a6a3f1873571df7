#include "core/dispatch.h"

#include <algorithm>
#include <map>
#include <mutex>

namespace bitgrad {
namespace {

constexpr int kNoOverride = -1;
thread_local int backend_override = kNoOverride;

// slot name -> which backends registered a kernel (ordered, for a stable dump).
struct Registry {
  std::mutex mutex;
  // Per slot, the source file of each backend's kernel; nullptr where there is none.
  std::map<std::string, std::array<const char*, kNumBackends>> slots;
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: used by static initialisers
  return *r;
}

std::string registered_list(const std::array<bool, kNumBackends>& registered) {
  std::string names;
  for (int b = 0; b < kNumBackends; ++b) {
    if (!registered[b]) continue;
    names += (names.empty() ? "" : ", ") + std::string(backend_name(static_cast<Backend>(b)));
  }
  return names.empty() ? "none" : names;
}

}  // namespace

const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::kRef: return "ref";
    case Backend::kCpu: return "cpu";
    case Backend::kCuda: return "cuda";
  }
  return "unknown";
}

BackendOverride::BackendOverride(Backend backend) : previous_(backend_override) {
  backend_override = static_cast<int>(backend);
}

BackendOverride::~BackendOverride() { backend_override = previous_; }

std::string registry_dump() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  size_t width = 4;
  for (const auto& [name, backends] : r.slots) width = std::max(width, name.size());
  auto pad = [](std::string text, size_t to) { return text + std::string(to - text.size(), ' '); };
  std::string out = pad("slot", width) + "  ref   cpu   cuda\n";
  for (const auto& [name, backends] : r.slots) {
    out += pad(name, width) + " ";
    for (int b = 0; b < kNumBackends; ++b) {
      out += " " + pad(backends[b] ? backend_name(static_cast<Backend>(b)) : "-", 5);
    }
    out += "\n";
  }
  return out;
}

std::vector<std::string> slots_missing_reference_kernel() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> missing;
  for (const auto& [name, backends] : r.slots) {
    if (!backends[static_cast<int>(Backend::kRef)]) missing.push_back(name);
  }
  return missing;
}

namespace detail {

bool note_slot(const char* slot_name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.slots.try_emplace(slot_name);
  return true;
}

void note_kernel(const char* slot_name, Backend backend, const char* source_file) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.slots[slot_name][static_cast<int>(backend)] = source_file;
}

void throw_duplicate_kernel(const char* slot_name, Backend backend, const char* source_file) {
  const char* first = nullptr;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    first = r.slots[slot_name][static_cast<int>(backend)];
  }
  throw Error(str_cat("two ", backend_name(backend), " kernels were registered for ", slot_name,
                      " (in ", first ? first : "?", " and ", source_file,
                      "); each backend may register one kernel per slot"));
}

Backend select_backend(const char* slot_name, Device device,
                       const std::array<bool, kNumBackends>& registered) {
  auto has = [&](Backend b) { return registered[static_cast<int>(b)]; };
  if (device.is_cuda()) {
    BG_CHECK(has(Backend::kCuda), slot_name, " has no CUDA kernel (registered: ",
             registered_list(registered), "). bitgrad never copies to the CPU behind your back: ",
             "move the inputs with .to(Device::cpu()), or register a kCuda kernel");
    return Backend::kCuda;
  }
  if (backend_override != kNoOverride) {
    auto forced = static_cast<Backend>(backend_override);
    BG_CHECK(forced != Backend::kCuda, "BackendOverride(kCuda) cannot run CPU tensors");
    BG_CHECK(has(forced), slot_name, " has no ", backend_name(forced),
             " kernel, which a BackendOverride asks for (registered: ",
             registered_list(registered), ")");
    return forced;
  }
  if (has(Backend::kCpu)) return Backend::kCpu;
  BG_CHECK(has(Backend::kRef), slot_name, " has no CPU kernel (registered: ",
           registered_list(registered), "); link the kernel libraries: //:bitgrad (from another ",
           "workspace @bitgrad//:bitgrad) brings every built-in op's, and a custom op's need ",
           "alwayslink = True");
  return Backend::kRef;
}

void throw_device_mismatch(const char* slot_name, Device first, Device other) {
  throw Error(str_cat(slot_name, ": expected all tensors on one device, got ", first, " and ",
                      other, "; move them with .to(device) first"));
}

}  // namespace detail
}  // namespace bitgrad
