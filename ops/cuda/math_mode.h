// How float32 matrix products and convolutions run on the GPU. TF32 (tensor cores, 10-bit
// mantissa products, float32 accumulation) is on by default, as in cuDNN and PyTorch's convs;
// turn it off for float32-exact comparisons with the CPU (tests do) or with BITGRAD_CUDA_TF32=0.
#pragma once

#include <string>

namespace bitgrad {

bool cuda_tf32_enabled();
void set_cuda_tf32_enabled(bool enabled);

// bf16 autocast of the convolutions (off by default; BITGRAD_CUDA_BF16=1 or this switch turns it
// on): float32 convolutions run on bfloat16 copies of their inputs with float32 accumulation,
// on the tensor cores, and hand back float32. Weights, gradients and every other op stay
// float32 (GroupNorm's statistics too), as under PyTorch's autocast.
bool cuda_bf16_autocast_enabled();
void set_cuda_bf16_autocast_enabled(bool enabled);

// The --dtype of the binaries: "fp32" (or empty) anywhere, "bf16" (the autocast above) on a GPU.
// Returns what is wrong with `dtype`, "" when it is fine.
std::string dtype_flag_problem(const std::string& dtype, bool on_cuda);

}  // namespace bitgrad
