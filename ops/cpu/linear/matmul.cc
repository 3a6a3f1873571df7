// oneDNN matrix product of plain 2-d tensors. Transposed operands are described by strides, so
// nothing is copied.
#include "ops/cpu/common/onednn_context.h"
#include "ops/cpu/common/onednn_layout.h"
#include "ops/linear.h"
#include "ops/shape_utils.h"

namespace bitgrad::onednn {
namespace {

using dnnl::memory;

// The logical (rows, cols) matrix stored row-major as t, or as t's transpose.
memory::desc matrix_desc(const Tensor& t, bool transpose) {
  int64_t rows = t.size(0), cols = t.size(1);
  if (!transpose) return memory::desc({rows, cols}, memory::data_type::f32, memory::dims{cols, 1});
  return memory::desc({cols, rows}, memory::data_type::f32, memory::dims{1, cols});
}

// out (M, N) = op(a) @ op(b); a, b plain 2-d float32. Overwrites out.
Tensor matmul_fwd_onednn(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  const MatmulDims dims = matmul_dims(a.shape(), b.shape(), transpose_a, transpose_b);
  const int64_t m = dims.m, k = dims.k, n = dims.n;
  if (a.dtype() != DType::kFloat32 || b.dtype() != DType::kFloat32 || m * n * k == 0) {
    return run_reference<MatmulFwd>(a, b, transpose_a, transpose_b);
  }
  return translate_errors("matmul", [&] {
    memory::desc src = matrix_desc(a, transpose_a), weights = matrix_desc(b, transpose_b);
    memory::desc dst = plain_desc(memory::dims{m, n}, memory::data_type::f32);
    CacheKey key("matmul");
    key.add(src).add(weights).add(dst);
    auto matmul = cached_primitive<dnnl::matmul::primitive_desc>(key, [&] {
      return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst), default_attr(),
                                          engine());
    });
    Tensor out = empty({m, n}, a.dtype());
    execute("matmul", matmul,
            {{DNNL_ARG_SRC, view(a, src).memory},
             {DNNL_ARG_WEIGHTS, view(b, weights).memory},
             {DNNL_ARG_DST, view(out, dst).memory}});
    return out;
  });
}

}  // namespace

BG_REGISTER_KERNEL(MatmulFwd, kCpu, matmul_fwd_onednn);

}  // namespace bitgrad::onednn
