// The kCuda kernels of PermuteFwd, CatFwd and NarrowFwd (ops/shape_ops.h): each op is one strided
// copy (cat one per tensor), planned as on the CPU (permute_copy and the others) and run by
// launch_strided_copy over the bytes of any dtype.
#include "core/cuda/cuda_stream.h"
#include "ops/cuda/common/gpu_check.h"
#include "ops/cuda/shape_ops/shape_ops_kernels.h"
#include "ops/shape_ops.h"

namespace bitgrad::cuda_ops {
namespace {

// Copies `copy` of `n` elements from `src` into `dst`. `op` names the op in errors.
void run_copy(const char* op, const StridedCopy& copy, int64_t n, const Tensor& src,
              Tensor& dst) {
  if (n == 0) return;
  const int rank = static_cast<int>(copy.extent.size());
  BG_CHECK(rank <= kMaxDims, op, ": the CUDA kernel handles copies over up to ", kMaxDims,
           " dims (after merging the dims that stay together), got ", rank, " for a tensor of ",
           "shape ", src.shape());
  CopyGeometry geometry;
  geometry.rank = rank;
  for (int d = 0; d < rank; ++d) {
    geometry.extent[d] = copy.extent[d];
    geometry.src_stride[d] = copy.src_stride[d];
    geometry.dst_stride[d] = copy.dst_stride[d];
  }
  const size_t item_bytes = src.itemsize();
  const char* from = static_cast<const char*>(src.raw_data()) + copy.src_offset * item_bytes;
  char* to = static_cast<char*>(dst.mutable_raw_data()) + copy.dst_offset * item_bytes;
  CUDA_OP_CHECK(op, launch_strided_copy(from, to, geometry, n, static_cast<int>(item_bytes),
                                        cuda_stream(src.device().index)));
}

// As permute_fwd_ref, with the same argument checks (permute_output_shape).
Tensor permute_fwd_cuda(const Tensor& x, const std::vector<int64_t>& dims) {
  Tensor y = empty(permute_output_shape(x.shape(), dims), x.dtype(), x.device());
  run_copy("PermuteFwd", permute_copy(x.shape(), dims), y.numel(), x, y);
  return y;
}

// As cat_fwd_ref, with the same argument checks (cat_output_shape).
Tensor cat_fwd_cuda(const std::vector<Tensor>& tensors, int64_t dim) {
  const Shape out_shape = cat_output_shape(tensors, dim);
  Tensor y = empty(out_shape, tensors[0].dtype(), tensors[0].device());
  int64_t offset = 0;
  for (const Tensor& t : tensors) {
    run_copy("CatFwd", cat_piece_copy(out_shape, t.shape(), dim, offset), t.numel(), t, y);
    offset += t.size(dim);
  }
  return y;
}

// As narrow_fwd_ref, with the same argument checks (narrow_output_shape).
Tensor narrow_fwd_cuda(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  Tensor y = empty(narrow_output_shape(x.shape(), dim, start, length), x.dtype(), x.device());
  run_copy("NarrowFwd", narrow_copy(x.shape(), dim, start, length), y.numel(), x, y);
  return y;
}

}  // namespace

BG_REGISTER_KERNEL(PermuteFwd, kCuda, permute_fwd_cuda);
BG_REGISTER_KERNEL(CatFwd, kCuda, cat_fwd_cuda);
BG_REGISTER_KERNEL(NarrowFwd, kCuda, narrow_fwd_cuda);

}  // namespace bitgrad::cuda_ops
