// Finding NaNs and infinities in a list of tensors: the check a training step makes on its
// gradients before the optimizer step (train/update.cc). A kernel slot, so that each backend
// checks the tensors where they live, all of them in one pass (a GPU without copying them to the
// host). Not an autograd op.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace bitgrad {

// The index of the first of `tensors` that holds a NaN or an infinity, or -1 when every element
// of every one is finite. The tensors are defined, float32 or float64, on one device.
BG_KERNEL_SLOT(FirstNonFinite, int64_t(const std::vector<Tensor>& tensors));

// Checks the tensors (defined, floating-point), then runs the kernel of their device.
int64_t first_non_finite(const std::vector<Tensor>& tensors);

// Where the first NaN or infinity of `tensor` is, for a message: its row-major element index and
// value (element -1 when there is none). Reads the tensor on the host: for the one tensor
// first_non_finite named, not for a search.
struct NonFiniteElement {
  int64_t element = -1;
  double value = 0;
};
NonFiniteElement locate_non_finite(const Tensor& tensor);

}  // namespace bitgrad
