// Fast CPU SiLU kernels (steps 3a-3b of docs/custom_ops.md): the reference loops, spread over
// OpenMP threads and SIMD lanes, and aware of oneDNN's blocked layouts. Registered as kCpu, so CPU
// tensors use them whenever this library is linked.
//
// Layout-aware: SiLU is elementwise and silu(0) = 0, so the kernels run over a tensor's physical
// buffer in whatever layout it has, the zero padding of a blocked layout included (it stays
// zero), and return that layout. A conv's blocked output thus goes through SiLU and into the next
// conv with no reorder; a plain-only kernel would cost two (docs/custom_ops.md measures them).
#include <cmath>

#include "core/dtype.h"
#include "examples/custom_op/silu.h"
#include "ops/cpu/common/onednn_layout.h"

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

// Elements in t's physical buffer: numel for a plain tensor, more for a padded blocked one.
int64_t stored_elements(const Tensor& t) {
  return static_cast<int64_t>(t.nbytes() / bitgrad::dtype_size(t.dtype()));
}

template <typename T>
const T* stored(const Tensor& t) {
  return static_cast<const T*>(t.raw_data());
}

// x: any shape, plain or blocked. Returns y = x * sigmoid(x) in x's layout; overwrites output.
Tensor silu_fwd_cpu(const Tensor& x) {
  Tensor y = bitgrad::onednn::empty_like_layout(x);
  BG_DISPATCH_FLOAT(x.dtype(), "silu", [&] {
    silu_fwd_loop(stored<scalar_t>(x), static_cast<scalar_t*>(y.mutable_raw_data()),
                  stored_elements(x));
  });
  return y;
}

// dy, x: same shape, any layouts. Returns dx = dy * s * (1 + x * (1 - s)), s = sigmoid(x), in
// dy's layout (x is reordered to it if they differ); overwrites output.
Tensor silu_bwd_cpu(const Tensor& dy, const Tensor& x_any_layout) {
  const Tensor x = bitgrad::onednn::to_layout_of(x_any_layout, dy);
  Tensor dx = bitgrad::onednn::empty_like_layout(dy);
  BG_DISPATCH_FLOAT(dy.dtype(), "silu backward", [&] {
    silu_bwd_loop(stored<scalar_t>(dy), stored<scalar_t>(x),
                  static_cast<scalar_t*>(dx.mutable_raw_data()), stored_elements(dy));
  });
  return dx;
}

}  // namespace

BG_REGISTER_LAYOUT_AWARE_KERNEL(SiluFwd, kCpu, silu_fwd_cpu);
BG_REGISTER_LAYOUT_AWARE_KERNEL(SiluBwd, kCpu, silu_bwd_cpu);

}  // namespace custom_op
