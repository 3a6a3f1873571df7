// Fast CPU SiLU kernels (step 3 of README.md): the reference loops, spread over OpenMP threads
// and SIMD lanes. Registered as kCpu, so CPU tensors use them whenever this library is linked.
#include <cmath>

#include "examples/custom_op/silu.h"

namespace custom_op {
namespace {

using bitgrad::Tensor;

// Below this many elements a parallel region costs more than the work it splits.
constexpr int64_t kParallelFrom = 1 << 15;

// The loops live outside BG_DISPATCH_FLOAT: a #pragma cannot appear inside a macro argument.
template <typename T>
void silu_fwd_loop(const T* x, T* y, int64_t n) {
#pragma omp parallel for simd if (n >= kParallelFrom)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (T(1) + std::exp(-x[i]));
}

template <typename T>
void silu_bwd_loop(const T* dy, const T* x, T* dx, int64_t n) {
#pragma omp parallel for simd if (n >= kParallelFrom)
  for (int64_t i = 0; i < n; ++i) {
    T s = T(1) / (T(1) + std::exp(-x[i]));
    dx[i] = dy[i] * s * (T(1) + x[i] * (T(1) - s));
  }
}

// x: any shape, plain. Returns y = x * sigmoid(x), same shape and dtype; overwrites output.
Tensor silu_fwd_cpu(const Tensor& x) {
  Tensor y = bitgrad::empty_like(x);
  BG_DISPATCH_FLOAT(x.dtype(), "silu", [&] {
    silu_fwd_loop(x.data<scalar_t>(), y.mutable_data<scalar_t>(), x.numel());
  });
  return y;
}

// dy, x: same shape, plain. Returns dx = dy * s * (1 + x * (1 - s)), s = sigmoid(x);
// overwrites output.
Tensor silu_bwd_cpu(const Tensor& dy, const Tensor& x) {
  Tensor dx = bitgrad::empty_like(dy);
  BG_DISPATCH_FLOAT(dy.dtype(), "silu backward", [&] {
    silu_bwd_loop(dy.data<scalar_t>(), x.data<scalar_t>(), dx.mutable_data<scalar_t>(),
                  dy.numel());
  });
  return dx;
}

}  // namespace

BG_REGISTER_KERNEL(SiluFwd, kCpu, silu_fwd_cpu);
BG_REGISTER_KERNEL(SiluBwd, kCpu, silu_bwd_cpu);

}  // namespace custom_op
