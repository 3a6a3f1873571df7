// Finding NaNs and infinities in a list of tensors: the check a training step makes on its
// gradients before the optimizer step (train/update.cc). A kernel slot, so that each backend
// checks the tensors where they live, all of them in one pass (a GPU without copying them to the
// host). Not an autograd op.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace bitgrad {

// The index of the first of `tensors` that holds a NaN or an infinity, or -1 when every element
// of every one is finite. The tensors are defined, float32 or float64, on one device.
BG_KERNEL_SLOT(FirstNonFinite, int64_t(const std::vector<Tensor>& tensors));

// Checks the tensors (defined, floating-point), then runs the kernel of their device.
int64_t first_non_finite(const std::vector<Tensor>& tensors);

// The first NaN or infinity among `tensors`, for a message: which tensor, its element
// (row-major) and value; nullopt when every element is finite. One first_non_finite pass finds
// the tensor, and only that one is read on the host.
struct NonFinite {
  size_t tensor = 0;
  int64_t element = 0;
  double value = 0;
};
std::optional<NonFinite> find_non_finite(const std::vector<Tensor>& tensors);

}  // namespace bitgrad
