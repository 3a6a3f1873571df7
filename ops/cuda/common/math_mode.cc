#include "ops/cuda/math_mode.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace bitgrad {
namespace {

std::atomic<bool>& tf32_flag() {
  static std::atomic<bool> flag([] {
    const char* env = std::getenv("BITGRAD_CUDA_TF32");
    return !(env && std::strcmp(env, "0") == 0);
  }());
  return flag;
}

std::atomic<bool>& bf16_flag() {
  static std::atomic<bool> flag([] {
    const char* env = std::getenv("BITGRAD_CUDA_BF16");
    return env != nullptr && std::strcmp(env, "1") == 0;
  }());
  return flag;
}

}  // namespace

bool cuda_tf32_enabled() { return tf32_flag().load(); }
void set_cuda_tf32_enabled(bool enabled) { tf32_flag().store(enabled); }
bool cuda_bf16_autocast_enabled() { return bf16_flag().load(); }
void set_cuda_bf16_autocast_enabled(bool enabled) { bf16_flag().store(enabled); }

std::string dtype_flag_problem(const std::string& dtype, bool on_cuda) {
  if (dtype.empty() || dtype == "fp32" || (dtype == "bf16" && on_cuda)) return "";
  return "expected fp32, or bf16 with --device=cuda, got \"" + dtype + "\"";
}

}  // namespace bitgrad
