// Where a tensor's memory lives. Logical layout is always NCHW row-major; the physical layout a
// backend may prefer is a separate concept (core/layout.h).
#pragma once

#include <ostream>
#include <string>

namespace bitgrad {

enum class DeviceType : uint8_t { kCPU, kCUDA };

struct Device {
  DeviceType type = DeviceType::kCPU;
  int index = 0;  // which GPU; always 0 for the CPU

  static Device cpu() { return {DeviceType::kCPU, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::kCUDA, index}; }
  // What a --device value names once check_device_name (core/storage.h) accepted it: "cuda" is
  // GPU `cuda_index`; "cpu", or "" where a config leaves it out, is the CPU.
  static Device from_flag(const std::string& value, int cuda_index = 0) {
    return value == "cuda" ? cuda(cuda_index) : cpu();
  }
  bool is_cpu() const { return type == DeviceType::kCPU; }
  bool is_cuda() const { return type == DeviceType::kCUDA; }
  bool operator==(const Device& other) const { return type == other.type && index == other.index; }
  bool operator!=(const Device& other) const { return !(*this == other); }
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
};

inline std::ostream& operator<<(std::ostream& out, const Device& device) {
  return out << device.str();
}

}  // namespace bitgrad
