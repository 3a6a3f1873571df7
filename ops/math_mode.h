// bf16 autocast of the convolutions, on whichever backend runs them (off by default;
// BITGRAD_BF16=1 or set_bf16_autocast_enabled() turns it on): float32 convolutions read bfloat16
// copies of their inputs (8 significant bits), accumulate in float32 and hand back float32,
// rounded to bf16 on the way. Weights, gradients and every other op stay float32, GroupNorm's
// statistics too, as under PyTorch's autocast; on the CPU the weight gradient is computed in
// float32 (ops/cpu/conv/bf16.h says why). Float64 tensors are never cast. How TF32 runs on the
// GPU is ops/cuda/math_mode.h.
#pragma once

#include <string>

#include "core/device.h"
#include "core/tensor.h"

namespace bitgrad {

bool bf16_autocast_enabled();
void set_bf16_autocast_enabled(bool enabled);

// Whether a convolution whose input is `t` runs in bf16: autocast is on and t is float32 (the
// rule every backend's kernels, the reference ones included, follow).
bool bf16_autocast_applies(const Tensor& t);

// Sets bf16 autocast for a scope (a run, a test), then restores what it was; scopes must nest.
class ScopedBf16Autocast {
 public:
  explicit ScopedBf16Autocast(bool enabled = true) : previous_(bf16_autocast_enabled()) {
    set_bf16_autocast_enabled(enabled);
  }
  ~ScopedBf16Autocast() { set_bf16_autocast_enabled(previous_); }
  ScopedBf16Autocast(const ScopedBf16Autocast&) = delete;
  ScopedBf16Autocast& operator=(const ScopedBf16Autocast&) = delete;

 private:
  bool previous_;
};

// What keeps bf16 autocast from running on a device type: "" when it can run there. Each backend
// that has bf16 convolutions registers its check at startup (the CPU's needs AMX); a device
// type no linked backend registered cannot run it. Registering returns true, for the static
// initialiser that calls it.
using Bf16AutocastCheck = std::string (*)();
bool register_bf16_autocast_check(DeviceType device, Bf16AutocastCheck check);
std::string bf16_autocast_problem(DeviceType device);

// The --dtype of the binaries: "fp32" (or empty), or "bf16" (the autocast above) where the
// device can run it. Returns what is wrong with `dtype`, "" when it is fine.
std::string dtype_flag_problem(const std::string& dtype, DeviceType device);

}  // namespace bitgrad
