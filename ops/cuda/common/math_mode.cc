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

}  // namespace

bool cuda_tf32_enabled() { return tf32_flag().load(); }
void set_cuda_tf32_enabled(bool enabled) { tf32_flag().store(enabled); }

}  // namespace bitgrad
