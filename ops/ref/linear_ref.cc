// Reference kernel for matrix products: the plain triple loop, accumulating in double.
#include "ops/linear.h"
#include "ops/shape_utils.h"

namespace bitgrad::ref {
namespace {

// a: (M, K), or (K, M) when transpose_a; b: (K, N), or (N, K) when transpose_b; both plain and
// of one dtype. Returns op(a) @ op(b), (M, N). Nothing is saved. Overwrites the output.
Tensor matmul_fwd_ref(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  const MatmulDims dims = matmul_dims(a.shape(), b.shape(), transpose_a, transpose_b);
  const int64_t m = dims.m, k = dims.k, n = dims.n;
  BG_CHECK(a.dtype() == b.dtype(), "matmul: a is ", dtype_name(a.dtype()), " but b is ",
           dtype_name(b.dtype()));
  Tensor out = empty({m, n}, a.dtype());
  BG_DISPATCH_FLOAT(a.dtype(), "matmul", [&] {
    const scalar_t* pa = a.data<scalar_t>();
    const scalar_t* pb = b.data<scalar_t>();
    scalar_t* po = out.mutable_data<scalar_t>();
    // Element (i, p) of op(a) and (p, j) of op(b), in row-major storage.
    auto a_at = [&](int64_t i, int64_t p) { return transpose_a ? pa[p * m + i] : pa[i * k + p]; };
    auto b_at = [&](int64_t p, int64_t j) { return transpose_b ? pb[j * k + p] : pb[p * n + j]; };
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double total = 0;
        for (int64_t p = 0; p < k; ++p) total += static_cast<double>(a_at(i, p)) * b_at(p, j);
        po[i * n + j] = static_cast<scalar_t>(total);
      }
    }
  });
  return out;
}

}  // namespace

BG_REGISTER_KERNEL(MatmulFwd, kRef, matmul_fwd_ref);

}  // namespace bitgrad::ref
