#include "ops/math_mode.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace bitgrad {
namespace {

std::atomic<bool>& bf16_flag() {
  static std::atomic<bool> flag([] {
    const char* env = std::getenv("BITGRAD_BF16");
    return env != nullptr && std::strcmp(env, "1") == 0;
  }());
  return flag;
}

struct Bf16Checks {
  std::mutex mutex;
  Bf16AutocastCheck cpu = nullptr, cuda = nullptr;
  Bf16AutocastCheck& of(DeviceType device) { return device == DeviceType::kCPU ? cpu : cuda; }
};

Bf16Checks& bf16_checks() {
  static Bf16Checks checks;
  return checks;
}

}  // namespace

bool bf16_autocast_enabled() { return bf16_flag().load(); }
void set_bf16_autocast_enabled(bool enabled) { bf16_flag().store(enabled); }

bool bf16_autocast_applies(const Tensor& t) {
  return t.dtype() == DType::kFloat32 && bf16_autocast_enabled();
}

bool register_bf16_autocast_check(DeviceType device, Bf16AutocastCheck check) {
  std::lock_guard<std::mutex> lock(bf16_checks().mutex);
  bf16_checks().of(device) = check;
  return true;
}

std::string bf16_autocast_problem(DeviceType device) {
  Bf16AutocastCheck check;
  {
    std::lock_guard<std::mutex> lock(bf16_checks().mutex);
    check = bf16_checks().of(device);
  }
  if (check == nullptr) {
    return device == DeviceType::kCPU ? "this binary links no CPU backend with bf16 convolutions"
                                      : "this binary was built without CUDA";
  }
  return check();
}

std::string dtype_flag_problem(const std::string& dtype, DeviceType device) {
  if (dtype.empty() || dtype == "fp32") return "";
  if (dtype != "bf16") return "expected fp32 or bf16, got \"" + dtype + "\"";
  std::string problem = bf16_autocast_problem(device);
  if (problem.empty()) return "";
  return std::string("bf16 on the ") + (device == DeviceType::kCPU ? "CPU" : "GPU") + ": " +
         problem;
}

}  // namespace bitgrad
