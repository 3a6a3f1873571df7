// Reference SiLU kernels (step 2 of docs/custom_ops.md): plain loops, the specification of the op
// and the oracle the CPU and CUDA kernels are tested against.
#include <cmath>

#include "examples/custom_op/silu.h"

namespace custom_op {
namespace {

using bitgrad::Tensor;

template <typename T>
T sigmoid(T v) {
  return T(1) / (T(1) + std::exp(-v));
}

// x: any shape, plain. Returns y = x * sigmoid(x), same shape and dtype; overwrites output.
Tensor silu_fwd_ref(const Tensor& x) {
  Tensor y = bitgrad::empty_like(x);
  BG_DISPATCH_FLOAT(x.dtype(), "silu", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* py = y.mutable_data<scalar_t>();
    for (int64_t i = 0; i < x.numel(); ++i) py[i] = px[i] * sigmoid(px[i]);
  });
  return y;
}

// dy, x: same shape, plain. Returns dx = dy * s * (1 + x * (1 - s)), s = sigmoid(x);
// overwrites output.
Tensor silu_bwd_ref(const Tensor& dy, const Tensor& x) {
  Tensor dx = bitgrad::empty_like(dy);
  BG_DISPATCH_FLOAT(dy.dtype(), "silu backward", [&] {
    const scalar_t* pdy = dy.data<scalar_t>();
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* pdx = dx.mutable_data<scalar_t>();
    for (int64_t i = 0; i < dy.numel(); ++i) {
      scalar_t s = sigmoid(px[i]);
      pdx[i] = pdy[i] * s * (scalar_t(1) + px[i] * (scalar_t(1) - s));
    }
  });
  return dx;
}

}  // namespace

BG_REGISTER_KERNEL(SiluFwd, kRef, silu_fwd_ref);
BG_REGISTER_KERNEL(SiluBwd, kRef, silu_bwd_ref);

}  // namespace custom_op
