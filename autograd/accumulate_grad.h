// The one kernel the backward engine needs: summing two gradients that reach the same tensor.
//
// The engine sits below the ops, so it cannot call add(); it declares this slot instead, and each
// backend registers a kernel for it next to its add kernel (ops/ref/elementwise_ref.cc,
// ops/cpu/elementwise/elementwise.cc), the way backends fill every op's slots.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace bitgrad {

// total + gradient, out of place (a backward may hand one tensor to several inputs). Same shape
// and dtype; the result may keep the operands' (opaque) layout.
BG_KERNEL_SLOT(AccumulateGrad, Tensor(const Tensor& total, const Tensor& gradient));

}  // namespace bitgrad
