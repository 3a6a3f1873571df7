// Which CUDA devices this process can use. Linking //core/cuda:runtime never requires a GPU:
// without one (no driver, no device) these report it, and every CUDA tensor operation throws a
// bitgrad::Error that says why.
#pragma once

#include <string>

namespace bitgrad {

// The number of usable CUDA devices; 0 when there is no driver or no device. Never throws.
int cuda_device_count();

// True when at least one CUDA device is usable. Otherwise false, and *why_not (if given) says
// why, e.g. "no usable CUDA device (cudaErrorInsufficientDriver: CUDA driver version is
// insufficient for CUDA runtime version)".
bool cuda_available(std::string* why_not = nullptr);

// Makes cuda:index the calling thread's current device (kernels launch there). Throws a clear
// Error when CUDA is unavailable or the index does not exist.
void set_current_cuda_device(int index);

}  // namespace bitgrad
