// The kCuda kernels of SiluFwd and SiluBwd: Tensor in, raw pointers to the launchers in
// silu_cuda.cu, Tensor out. This file is C++ for g++ (it includes bitgrad headers, which nvcc
// need never parse); the .cu file holds only device code.
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_device.h"
#include "examples/custom_op/silu.h"
#include "examples/custom_op/silu_cuda.h"

namespace custom_op {
namespace {

using bitgrad::Tensor;

// x: any shape, plain, on one CUDA device. Returns y = x * sigmoid(x) on that device, same shape
// and dtype; overwrites output.
Tensor silu_fwd_cuda(const Tensor& x) {
  bitgrad::set_current_cuda_device(x.device().index);  // the launch goes to x's GPU
  Tensor y = bitgrad::empty_like(x);
  BG_DISPATCH_FLOAT(x.dtype(), "silu", [&] {
    CUDA_CHECK(cuda_launch::silu_fwd(x.data<scalar_t>(), y.mutable_data<scalar_t>(), x.numel()));
  });
  return y;
}

// dy, x: same shape, plain, on one CUDA device. Returns dx = dy * s * (1 + x * (1 - s)),
// s = sigmoid(x); overwrites output.
Tensor silu_bwd_cuda(const Tensor& dy, const Tensor& x) {
  bitgrad::set_current_cuda_device(dy.device().index);
  Tensor dx = bitgrad::empty_like(dy);
  BG_DISPATCH_FLOAT(dy.dtype(), "silu backward", [&] {
    CUDA_CHECK(cuda_launch::silu_bwd(dy.data<scalar_t>(), x.data<scalar_t>(),
                                     dx.mutable_data<scalar_t>(), dy.numel()));
  });
  return dx;
}

}  // namespace

BG_REGISTER_KERNEL(SiluFwd, kCuda, silu_fwd_cuda);
BG_REGISTER_KERNEL(SiluBwd, kCuda, silu_bwd_cuda);

}  // namespace custom_op
