// Shape-only ops: views of the same memory, recorded by autograd.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace bitgrad {

// x with a new shape of the same numel; one extent may be -1 (inferred). Shares memory with x.
Tensor reshape(const Tensor& x, const std::vector<int64_t>& shape);
// Merges dims start_dim..end_dim into one, as torch.flatten.
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);

}  // namespace bitgrad
