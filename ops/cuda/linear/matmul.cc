// The kCuda MatmulFwd kernel on cuBLAS (linear() and matmul() are built from it).
//
// cuBLAS is column-major; a row-major (R, C) matrix is the column-major (C, R) matrix with
// leading dimension C. So row-major out = op(a) @ op(b) is computed as the column-major
// out^T = op(b)^T @ op(a)^T: the operands swap places and keep their transpose flags.
#include "core/check.h"
#include "ops/cuda/common/gpu_check.h"
#include "ops/cuda/common/gpu_context.h"
#include "ops/cuda/math_mode.h"
#include "ops/linear.h"
#include "ops/shape_utils.h"

namespace bitgrad::cuda_ops {
namespace {

constexpr const char* kOp = "MatmulFwd";

// a: (M, K), or (K, M) when transpose_a; b: (K, N), or (N, K) when transpose_b; plain, one
// dtype (float32 or float64), one CUDA device. Returns op(a) @ op(b), (M, N), on that device.
// float32 uses TF32 tensor cores when cuda_tf32_enabled(). Nothing is saved.
Tensor matmul_fwd_cuda(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  const MatmulDims dims = matmul_dims(a.shape(), b.shape(), transpose_a, transpose_b);
  const int64_t m = dims.m, k = dims.k, n = dims.n;
  BG_CHECK(a.dtype() == b.dtype(), "matmul: a is ", dtype_name(a.dtype()), " but b is ",
           dtype_name(b.dtype()));
  if (k == 0) return zeros({m, n}, a.dtype(), a.device());
  Tensor out = empty({m, n}, a.dtype(), a.device());
  if (m == 0 || n == 0) return out;

  const GpuContext& gpu = gpu_context(kOp, a.device());
  cudaDataType_t type;
  cublasComputeType_t compute;
  if (a.dtype() == DType::kFloat32) {
    type = CUDA_R_32F;
    compute = cuda_tf32_enabled() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  } else if (a.dtype() == DType::kFloat64) {
    type = CUDA_R_64F;
    compute = CUBLAS_COMPUTE_64F;
  } else {
    BG_CHECK(false, "matmul: expected a float32 or float64 tensor, got ", dtype_name(a.dtype()));
  }
  const float alpha32 = 1, beta32 = 0;
  const double alpha64 = 1, beta64 = 0;
  const void* alpha = type == CUDA_R_32F ? static_cast<const void*>(&alpha32) : &alpha64;
  const void* beta = type == CUDA_R_32F ? static_cast<const void*>(&beta32) : &beta64;
  CUBLAS_CHECK(kOp, cublasGemmEx(gpu.cublas, transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                 transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                 checked_int(kOp, n, "N"), checked_int(kOp, m, "M"),
                                 checked_int(kOp, k, "K"), alpha, b.raw_data(), type,
                                 checked_int(kOp, b.size(1), "b's row length"), a.raw_data(),
                                 type, checked_int(kOp, a.size(1), "a's row length"), beta,
                                 out.mutable_raw_data(), type, checked_int(kOp, n, "N"), compute,
                                 CUBLAS_GEMM_DEFAULT));
  return out;
}

}  // namespace

BG_REGISTER_KERNEL(MatmulFwd, kCuda, matmul_fwd_cuda);

}  // namespace bitgrad::cuda_ops
