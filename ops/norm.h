// Normalisations: GroupNorm (optionally fused with the ReLU that follows it in BiT) and
// Weight Standardization of convolution kernels.
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace bitgrad {

struct GroupNormAttrs {
  int64_t groups = 32;
  double eps = 1e-5;
  bool relu = false;  // y = relu(group_norm(x)): one pass instead of two
};

// Per sample n and group g, over the group's C/G channels and all spatial positions:
//   mean, rstd = 1 / sqrt(biased var + eps);  y = (x - mean) * rstd * gamma[c] + beta[c]
// x: (N, C, *); gamma, beta: (C) or undefined (1 and 0). mean, rstd: (N, G), x's dtype.
struct GroupNormResult {
  Tensor y, mean, rstd;
};
BG_KERNEL_SLOT(GroupNormFwd, GroupNormResult(const Tensor& x, const Tensor& gamma,
                                             const Tensor& beta, const GroupNormAttrs& attrs));

// Gradients of group_norm given dy. With attrs.relu, dy is gated by the pre-activation
// (x - mean) * rstd * gamma + beta > 0, which kernels recompute from x rather than read from y: a
// pass over one tensor less. (Where the pre-activation is within rounding of 0 the recomputed
// gate may differ from y > 0; the ReLU has no derivative there.) gamma, beta: (C) or undefined
// (1 and 0). dgamma is undefined when gamma is; dbeta is always returned, and autograd drops it
// when beta is absent. dx_addend, when defined (x's shape), is added to dx: the gradient x
// already has from its other consumers (BiT's residual shortcut), summed in the pass that writes
// dx rather than in a pass of its own.
struct GroupNormGrads {
  Tensor dx, dgamma, dbeta;
};
BG_KERNEL_SLOT(GroupNormBwd, GroupNormGrads(const Tensor& dy, const Tensor& x,
                                            const Tensor& gamma, const Tensor& beta,
                                            const Tensor& mean, const Tensor& rstd,
                                            const Tensor& dx_addend,
                                            const GroupNormAttrs& attrs));

Tensor group_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                  const GroupNormAttrs& attrs = {});

// Weight Standardization (BiT): for each output channel o of w (O, ...), over all its other
// elements: w_hat = (w - mean_o) / sqrt(biased var_o + eps). BiT uses eps = 1e-10.
BG_KERNEL_SLOT(WeightStandardizeFwd, Tensor(const Tensor& w, double eps));
BG_KERNEL_SLOT(WeightStandardizeBwd, Tensor(const Tensor& dy, const Tensor& w, double eps));

Tensor weight_standardize(const Tensor& w, double eps = 1e-10);

}  // namespace bitgrad
