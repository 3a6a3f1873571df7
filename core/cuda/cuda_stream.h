// One CUDA stream per device. Every bitgrad copy, fill, kernel and cuDNN/cuBLAS call on a device
// goes to its stream, so work is ordered and a cached block freed by one tensor is only reused
// after the kernels before it are done. The stream synchronises with the legacy default stream
// (cudaStreamDefault flags), so kernels that custom ops launch on stream 0 stay ordered too.
#pragma once

#include <cuda_runtime_api.h>

namespace bitgrad {

// Makes cuda:index current and returns its stream (created on first use, never destroyed).
// Throws a clear Error when CUDA is unavailable or the index does not exist.
cudaStream_t cuda_stream(int device_index);

// Copies `nbytes` from pageable host memory to the device without waiting for the GPU: the data
// is staged in a page-locked (pinned) buffer, which is reused once its copy has finished, and
// the copy is queued on the device's stream. `src` may be freed as soon as this returns.
void copy_host_to_device_async(void* dst, int device_index, const void* src, size_t nbytes);

}  // namespace bitgrad
