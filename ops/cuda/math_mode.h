// How float32 matrix products and convolutions run on the GPU. TF32 (tensor cores, 10-bit
// mantissa products, float32 accumulation) is on by default, as in cuDNN and PyTorch's convs;
// turn it off for float32-exact comparisons with the CPU (tests do) or with BITGRAD_CUDA_TF32=0.
// bf16 autocast, on either backend, is ops/math_mode.h.
#pragma once

namespace bitgrad {

bool cuda_tf32_enabled();
void set_cuda_tf32_enabled(bool enabled);

}  // namespace bitgrad
