// oneDNN elementwise kernels: relu, affine (scale * x + shift) and binary arithmetic. Outputs
// keep the inputs' layout. Operands of a binary op are brought to one layout first: oneDNN falls
// back to its slow reference code when operand layouts differ.
//
// Same-layout operands are processed as one flat array over the whole buffer
// (common/flat_eltwise.h), so the flat path is only taken where op(0, 0) == 0.
#include "autograd/accumulate_grad.h"
#include "ops/cpu/common/flat_eltwise.h"
#include "ops/cpu/common/onednn_context.h"
#include "ops/cpu/common/onednn_layout.h"
#include "ops/elementwise.h"
#include "ops/shape_utils.h"

namespace bitgrad::onednn {
namespace {

using dnnl::memory;
using dnnl::algorithm;

// y = max(x, 0), x in any layout; y has x's layout. Overwrites y.
Tensor relu_fwd_onednn(const Tensor& x) {
  if (x.dtype() != DType::kFloat32 || x.numel() == 0) return run_reference<ReluFwd>(x);
  return translate_errors("relu", [&] {
    Buffer src = view(x);
    auto relu = eltwise_primitive("relu", dnnl::prop_kind::forward_training,
                                  algorithm::eltwise_relu_use_dst_for_bwd,
                                  flat_desc(src.desc()), 0.f, 0.f);
    Tensor y = empty_with_desc(x.shape(), x.dtype(), src.desc());
    execute("relu", relu, {{DNNL_ARG_SRC, flat(src)}, {DNNL_ARG_DST, flat(view(y))}});
    return y;
  });
}

// dx = dy where y > 0, else 0; dy and y in any layouts, brought to one. Overwrites dx.
Tensor relu_bwd_onednn(const Tensor& dy, const Tensor& y) {
  if (dy.dtype() != DType::kFloat32 || y.dtype() != DType::kFloat32 || dy.numel() == 0) {
    return run_reference<ReluBwd>(dy, y);
  }
  return translate_errors("relu backward", [&] {
    BG_CHECK(dy.shape() == y.shape(), "relu backward: dy has shape ", dy.shape(), " but y has ",
             y.shape());
    memory::desc desc = common_desc(y, dy);
    Buffer diff_dst = in_layout(view(dy), desc);
    Buffer dst = in_layout(view(y), desc);
    auto relu = eltwise_backward_primitive("relu", algorithm::eltwise_relu_use_dst_for_bwd,
                                           flat_desc(desc));
    Tensor dx = empty_with_desc(dy.shape(), dy.dtype(), desc);
    execute("relu backward", relu,
            {{DNNL_ARG_DIFF_DST, flat(diff_dst)},
             {DNNL_ARG_DST, flat(dst)},
             {DNNL_ARG_DIFF_SRC, flat(view(dx))}});
    return dx;
  });
}

// y = scale * x + shift in float, x in any layout; y has x's layout (plain when a nonzero shift
// would fill a blocked layout's padding). Overwrites y.
Tensor affine_fwd_onednn(const Tensor& x, double scale, double shift) {
  if (x.dtype() != DType::kFloat32 || x.numel() == 0) {
    return run_reference<AffineFwd>(x, scale, shift);
  }
  return translate_errors("affine", [&] {
    Buffer src = view(x);
    if (shift != 0.0 && has_padding(src.desc())) src = view(x.to_plain());
    auto affine = eltwise_primitive("affine", dnnl::prop_kind::forward_inference,
                                    algorithm::eltwise_linear, flat_desc(src.desc()),
                                    static_cast<float>(scale), static_cast<float>(shift));
    Tensor y = empty_with_desc(x.shape(), x.dtype(), src.desc());
    execute("affine", affine, {{DNNL_ARG_SRC, flat(src)}, {DNNL_ARG_DST, flat(view(y))}});
    return y;
  });
}

algorithm binary_algorithm(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return algorithm::binary_add;
    case BinaryOp::kSub: return algorithm::binary_sub;
    case BinaryOp::kMul: return algorithm::binary_mul;
    case BinaryOp::kDiv: return algorithm::binary_div;
  }
  BG_ASSERT(false, "unknown binary op");
}

void run_binary(BinaryOp op, const memory& src0, const memory& src1, const memory& dst) {
  memory::desc desc0 = src0.get_desc(), desc1 = src1.get_desc(), dst_desc = dst.get_desc();
  CacheKey key("binary");
  key.add(static_cast<int64_t>(op)).add(desc0).add(desc1).add(dst_desc);
  auto binary = cached_primitive<dnnl::binary::primitive_desc>(key, [&] {
    dnnl::binary::desc d(binary_algorithm(op), desc0, desc1, dst_desc);
    return dnnl::binary::primitive_desc(d, default_attr(), engine());
  });
  execute(binary_op_name(op), binary,
          {{DNNL_ARG_SRC_0, src0}, {DNNL_ARG_SRC_1, src1}, {DNNL_ARG_DST, dst}});
}

// Same shapes: both operands in one layout, processed flat (see the file comment).
Tensor binary_same_shape(const Tensor& a, const Tensor& b, BinaryOp op) {
  memory::desc desc = common_desc(a, b);
  if (op == BinaryOp::kDiv && has_padding(desc)) desc = plain_desc(a.shape(), a.dtype());
  Buffer src0 = in_layout(view(a), desc);
  Buffer src1 = in_layout(view(b), desc);
  Tensor out = empty_with_desc(a.shape(), a.dtype(), desc);
  run_binary(op, flat(src0), flat(src1), flat(view(out)));
  return out;
}

// a's shape is the output's; b broadcasts (its dims align right and may be 1). b is described
// in a's format (a (1, C, 1, 1) operand next to nChw8c must be nChw8c too, or oneDNN uses ref).
Tensor binary_broadcast(const Tensor& a, const Tensor& b, BinaryOp op) {
  memory::dims b_dims(a.dim() - b.dim(), 1);
  for (int64_t extent : b.shape()) b_dims.push_back(extent);
  Tensor lhs = a;
  memory::desc b_desc;
  if (has_onednn_layout(a) && !has_padding(desc_of(a))) {
    memory::format_tag tag = format_tag_of(desc_of(a));
    if (tag != memory::format_tag::undef) {
      b_desc = memory::desc(b_dims, memory::data_type::f32, tag);
    }
    if (!b_desc.is_zero() && has_padding(b_desc)) b_desc = memory::desc();
  }
  if (b_desc.is_zero()) {
    lhs = a.to_plain();
    b_desc = plain_desc(b_dims, memory::data_type::f32);
  }
  Buffer src0 = view(lhs);
  Buffer src1 = in_layout(view(b.to_plain(), plain_desc(b_dims, memory::data_type::f32)), b_desc);
  Tensor out = empty_with_desc(a.shape(), a.dtype(), src0.desc());
  run_binary(op, src0.memory, src1.memory, view(out).memory);
  return out;
}

// out = a (op) b with NumPy broadcasting, where oneDNN can: b broadcasts to a's shape (or, for
// add and mul, a to b's). Other cases, float64 and 0-d tensors run the reference kernel. out
// has the layout of the (larger) blocked operand. Overwrites out.
Tensor binary_fwd_onednn(const Tensor& a, const Tensor& b, BinaryOp op) {
  Shape out_shape = broadcast_shapes(binary_op_name(op), a.shape(), b.shape());
  bool commutes = op == BinaryOp::kAdd || op == BinaryOp::kMul;
  bool supported = a.dtype() == DType::kFloat32 && b.dtype() == DType::kFloat32 &&
                   out_shape.numel() > 0 && a.dim() > 0 && b.dim() > 0 &&
                   out_shape.rank() <= DNNL_MAX_NDIMS &&
                   (a.shape() == out_shape || (commutes && b.shape() == out_shape));
  if (!supported) return run_reference<BinaryFwd>(a, b, op);
  return translate_errors(binary_op_name(op), [&] {
    if (a.shape() == b.shape()) return binary_same_shape(a, b, op);
    if (a.shape() == out_shape) return binary_broadcast(a, b, op);
    return binary_broadcast(b, a, op);
  });
}

// The engine's gradient sum is an add; gradients may arrive channel-blocked.
Tensor accumulate_grad_onednn(const Tensor& total, const Tensor& gradient) {
  return binary_fwd_onednn(total, gradient, BinaryOp::kAdd);
}

}  // namespace

BG_REGISTER_LAYOUT_AWARE_KERNEL(ReluFwd, kCpu, relu_fwd_onednn);
BG_REGISTER_LAYOUT_AWARE_KERNEL(ReluBwd, kCpu, relu_bwd_onednn);
BG_REGISTER_LAYOUT_AWARE_KERNEL(AffineFwd, kCpu, affine_fwd_onednn);
BG_REGISTER_LAYOUT_AWARE_KERNEL(BinaryFwd, kCpu, binary_fwd_onednn);
BG_REGISTER_LAYOUT_AWARE_KERNEL(AccumulateGrad, kCpu, accumulate_grad_onednn);

}  // namespace bitgrad::onednn
