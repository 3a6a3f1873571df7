// oneDNN convolution kernels. Activations (x, y, dy, dx) use whatever layout the primitive picks
// with format_tag::any (nChw8c on AVX2, nChw16c on AVX-512; the root conv reads its plain nchw
// image as is) and stay in it between oneDNN ops. Weights stay plain OIHW in the framework and
// are reordered to the primitive's layout on every call: backward-data wants a different
// blocked weight layout than forward and backward-weights, and SGD updates the plain weights
// between steps.
//
// On small feature maps some passes run as whole-batch GEMMs instead (conv/gemm.h), and stride-1
// 3x3 convs with 128+ channels by Winograd's algorithm (conv/winograd.h), both reading and
// writing the same layouts; backward-weights of 3x3 convs runs a hand-written kernel
// (conv/bwd_weight_3x3_kernel.h), and the forward of stride-1 3x3 convs and the backward-data of
// 1x1 convs run as the other pass of the dual conv (conv/dual.h); on AVX-512, stride-1 3x3
// convs ask oneDNN for its Winograd kernels instead (conv/direct.h); conv/algo.h says which.
// Under bf16 autocast (ops/math_mode.h) the forward and backward-data passes run oneDNN's bf16
// kernels (conv/bf16.h).
#include "ops/conv.h"
#include "ops/cpu/common/onednn_context.h"
#include "ops/cpu/common/onednn_layout.h"
#include "ops/cpu/conv/algo.h"
#include "ops/cpu/conv/bf16.h"
#include "ops/cpu/conv/bwd_weight_3x3_kernel.h"
#include "ops/cpu/conv/direct.h"
#include "ops/cpu/conv/dual.h"
#include "ops/cpu/conv/gemm.h"
#include "ops/cpu/conv/winograd.h"
#include "ops/elementwise.h"
#include "ops/math_mode.h"
#include "ops/pad.h"

namespace bitgrad::onednn {
namespace {

using dnnl::memory;

// A backward pass's dy must have the shape of the convolution's output.
void check_dy_shape(const char* pass, const Tensor& dy, const Shape& x_shape,
                    const Shape& w_shape, const ConvGeometry& g) {
  BG_CHECK(dy.shape() == g.dst_shape(), pass, ": dy has shape ", dy.shape(),
           " but the convolution of ", x_shape, " with ", w_shape, " gives ", g.dst_shape());
}

// Whether oneDNN takes these tensors: float32 and not empty (an empty batch goes to ref).
bool onednn_can_run(std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors) {
    if (t->defined() && (t->dtype() != DType::kFloat32 || t->numel() == 0)) return false;
  }
  return true;
}

// y = conv(x, w) + bias; x: (N, C, H, W) in any layout, w: (O, C/groups, KH, KW), bias: (O) or
// undefined. Returns y in the primitive's layout. Saves nothing; overwrites y.
Tensor conv2d_fwd_onednn(const Tensor& x, const Tensor& w, const Tensor& bias,
                         const Conv2dAttrs& attrs) {
  if (!onednn_can_run({&x, &w, &bias})) return run_reference<Conv2dFwd>(x, w, bias, attrs);
  return translate_errors("conv2d", [&] {
    ConvGeometry g = conv_geometry(x.shape(), w.shape(), attrs);
    BG_CHECK(!bias.defined() || bias.shape() == Shape{w.size(0)}, "conv2d: expected bias of ",
             "shape (", w.size(0), "), got ", bias.shape());
    if (bf16_autocast_applies(x)) return conv2d_fwd_bf16(x, w, bias, attrs);
    // Before the direct primitive is looked up, so that no unused one is created.
    if (!bias.defined() && use_winograd(ConvPass::kForward, x.shape(), w.shape(), attrs)) {
      if (Tensor y = conv2d_fwd_winograd(x, w, attrs); y.defined()) return y;
    }
    if (!bias.defined() && use_dual_for_forward(x.shape(), w.shape(), attrs)) {
      return conv2d_fwd_by_dual(x, w, attrs);
    }
    auto conv =
        forward_primitive(g, bias.defined(), use_onednn_winograd(x.shape(), w.shape(), attrs));
    if (!bias.defined() && gemm_conv_can_write(conv.pd.dst_desc()) &&
        use_gemm(ConvPass::kForward, x.shape(), w.shape(), attrs)) {
      return conv2d_fwd_gemm(x, w, attrs, conv.pd.dst_desc());
    }
    Buffer src = in_layout(view(x), conv.pd.src_desc());
    Buffer weights = in_layout(plain_view(w, g.weights), conv.pd.weights_desc());
    Tensor y = empty_with_desc(g.dst_shape(), x.dtype(), conv.pd.dst_desc());
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src.memory},
                                            {DNNL_ARG_WEIGHTS, weights.memory},
                                            {DNNL_ARG_DST, view(y).memory}};
    Buffer bias_buffer;
    if (bias.defined()) {
      bias_buffer = in_layout(plain_view(bias, {g.dst[1]}), conv.pd.bias_desc());
      args[DNNL_ARG_BIAS] = bias_buffer.memory;
    }
    execute("conv2d", conv, std::move(args));
    return y;
  });
}

// y = conv(x, w) + addend by oneDNN's sum post-op: the conv adds its result to what dst holds,
// the addend. dst is the addend's own memory when the caller gave it up (reuse_addend) and no
// other handle or view shares it, already in the conv's output layout: the residual addition
// then costs no pass over memory of its own. Otherwise dst is a copy of the addend. Where another
// algorithm runs this forward (our or oneDNN's Winograd, the dual, GEMM), a conv and an add. Under
// bf16 autocast the bf16 result is added to dst as it is converted back. Returns y in the conv's
// layout.
Tensor conv2d_add_fwd_onednn(const Tensor& x, const Tensor& w, const Tensor& addend,
                             const Conv2dAttrs& attrs, bool reuse_addend) {
  if (!onednn_can_run({&x, &w, &addend})) {
    return run_reference<Conv2dAddFwd>(x, w, addend, attrs, reuse_addend);
  }
  const bool bf16 = bf16_autocast_applies(x);
  if (!bf16 && (use_winograd(ConvPass::kForward, x.shape(), w.shape(), attrs) ||
                use_onednn_winograd(x.shape(), w.shape(), attrs) ||
                use_dual_for_forward(x.shape(), w.shape(), attrs) ||
                use_gemm(ConvPass::kForward, x.shape(), w.shape(), attrs))) {
    return call<BinaryFwd>(conv2d_fwd_onednn(x, w, Tensor(), attrs), addend, BinaryOp::kAdd);
  }
  return translate_errors("conv2d_add", [&] {
    ConvGeometry g = conv_geometry(x.shape(), w.shape(), attrs);
    // The add primitive's dst layout is the plain forward's, which the bf16 path writes too.
    const memory::desc dst_desc = forward_primitive(g, /*with_bias=*/false).pd.dst_desc();
    Tensor y;
    if (may_write_into_addend(addend, reuse_addend) && desc_of(addend) == dst_desc) {
      y = addend.detach();  // the addend's memory becomes y's
    } else {
      y = empty_with_desc(g.dst_shape(), x.dtype(), dst_desc);
      reorder(view(addend).memory, view(y).memory);
    }
    if (bf16) {
      conv2d_add_into_bf16(x, w, attrs, y);
      return y;
    }
    auto conv = forward_add_primitive(g);
    Buffer src = in_layout(view(x), conv.pd.src_desc());
    Buffer weights = in_layout(plain_view(w, g.weights), conv.pd.weights_desc());
    execute("conv2d_add", conv,
            {{DNNL_ARG_SRC, src.memory}, {DNNL_ARG_WEIGHTS, weights.memory},
             {DNNL_ARG_DST, view(y).memory}});
    return y;
  });
}

// dx (x_shape) from dy (N, O, OH, OW) in any layout and w (O, C/groups, KH, KW). Returns dx in
// the primitive's layout (the forward's src layout). Overwrites dx.
Tensor conv2d_bwd_data_onednn(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                              const Conv2dAttrs& attrs) {
  if (!onednn_can_run({&dy, &w})) return run_reference<Conv2dBwdData>(dy, w, x_shape, attrs);
  return translate_errors("conv2d backward data", [&] {
    ConvGeometry g = conv_geometry(x_shape, w.shape(), attrs);
    check_dy_shape("conv2d backward data", dy, x_shape, w.shape(), g);
    if (bf16_autocast_applies(dy)) return conv2d_bwd_data_bf16(dy, w, x_shape, attrs);
    // Before the direct primitive is looked up, so that no unused one is created.
    if (use_winograd(ConvPass::kBackwardData, x_shape, w.shape(), attrs)) {
      if (Tensor dx = conv2d_bwd_data_winograd(dy, w, x_shape, attrs); dx.defined()) return dx;
    }
    if (use_dual_for_backward_data(x_shape, w.shape(), attrs)) {
      if (Tensor dx = conv2d_bwd_data_by_dual(dy, w, x_shape, attrs); dx.defined()) return dx;
    }
    auto conv = backward_data_primitive(g, use_onednn_winograd(x_shape, w.shape(), attrs));
    if (gemm_conv_can_write(conv.pd.diff_src_desc()) &&
        use_gemm(ConvPass::kBackwardData, x_shape, w.shape(), attrs)) {
      return conv2d_bwd_data_gemm(dy, w, x_shape, attrs, conv.pd.diff_src_desc());
    }
    Buffer diff_dst = in_layout(view(dy), conv.pd.diff_dst_desc());
    Buffer weights = in_layout(plain_view(w, g.weights), conv.pd.weights_desc());
    Tensor dx = empty_with_desc(x_shape, dy.dtype(), conv.pd.diff_src_desc());
    execute("conv2d backward data", conv,
            {{DNNL_ARG_DIFF_DST, diff_dst.memory},
             {DNNL_ARG_WEIGHTS, weights.memory},
             {DNNL_ARG_DIFF_SRC, view(dx).memory}});
    return dx;
  });
}

// dw from the hand-written 3x3 kernel when it can run: x and dy in one layout, nChw8c or
// nChw16c, and a shape it supports. Undefined otherwise.
Tensor conv3x3_bwd_weight_if_supported(const Tensor& dy, const Tensor& x, const Shape& w_shape,
                                       const Conv2dAttrs& attrs) {
  if (channel_block(dy) != channel_block(x)) return Tensor();
  cpu::Conv3x3Shape shape;
  shape.block = channel_block(x);
  shape.batch = x.size(0);
  shape.in_channels = x.size(1);
  shape.out_channels = w_shape[0];
  shape.in_h = x.size(2);
  shape.in_w = x.size(3);
  shape.out_h = dy.size(2);
  shape.out_w = dy.size(3);
  shape.stride_h = attrs.stride[0];
  shape.stride_w = attrs.stride[1];
  shape.pad_h = attrs.padding[0];
  shape.pad_w = attrs.padding[1];
  if (!cpu::conv3x3_bwd_weight_supported(shape)) return Tensor();
  Tensor x_read = x;
  if (cpu::conv3x3_bwd_weight_pads_columns_first(shape)) {
    x_read = call<ConstantPadFwd>(x, PadAttrs{{0, 0, 0, shape.pad_w}, {0, 0, 0, shape.pad_w}});
    BG_ASSERT(channel_block(x_read) == shape.block, "a zero pad in W keeps the channel block");
    shape.in_w += 2 * shape.pad_w;
    shape.pad_w = 0;
  }
  Tensor dw = empty(w_shape, DType::kFloat32);
  cpu::conv3x3_bwd_weight_blocked(shape, static_cast<const float*>(x_read.raw_data()),
                                  static_cast<const float*>(dy.raw_data()),
                                  dw.mutable_data<float>());
  return dw;
}

// dw (w_shape, plain OIHW) from dy (N, O, OH, OW) and x (N, C, H, W), both in any layout.
// Overwrites dw.
Tensor conv2d_bwd_weight_onednn(const Tensor& dy, const Tensor& x, const Shape& w_shape,
                                const Conv2dAttrs& attrs) {
  if (!onednn_can_run({&dy, &x})) return run_reference<Conv2dBwdWeight>(dy, x, w_shape, attrs);
  return translate_errors("conv2d backward weight", [&] {
    ConvGeometry g = conv_geometry(x.shape(), w_shape, attrs);
    check_dy_shape("conv2d backward weight", dy, x.shape(), w_shape, g);
    if (use_winograd(ConvPass::kBackwardWeight, x.shape(), w_shape, attrs)) {
      if (Tensor dw = conv2d_bwd_weight_winograd(dy, x, w_shape, attrs); dw.defined()) return dw;
    }
    if (use_gemm(ConvPass::kBackwardWeight, x.shape(), w_shape, attrs)) {
      return conv2d_bwd_weight_gemm(dy, x, w_shape, attrs);
    }
    if (use_conv3x3_bwd_weight(w_shape, attrs)) {
      if (Tensor dw = conv3x3_bwd_weight_if_supported(dy, x, w_shape, attrs); dw.defined()) {
        return dw;
      }
    }
    auto conv = backward_weights_primitive(g, use_onednn_winograd(x.shape(), w_shape, attrs));
    Buffer src = in_layout(view(x), conv.pd.src_desc());
    Buffer diff_dst = in_layout(view(dy), conv.pd.diff_dst_desc());
    Tensor dw = empty(w_shape, x.dtype());
    Buffer dw_plain = view(dw, plain_desc(g.weights, memory::data_type::f32));
    bool plain_result = conv.pd.diff_weights_desc() == dw_plain.desc();
    Buffer diff_weights = plain_result ? dw_plain : allocate(conv.pd.diff_weights_desc());
    execute("conv2d backward weight", conv,
            {{DNNL_ARG_SRC, src.memory},
             {DNNL_ARG_DIFF_DST, diff_dst.memory},
             {DNNL_ARG_DIFF_WEIGHTS, diff_weights.memory}});
    if (!plain_result) reorder(diff_weights.memory, dw_plain.memory);
    return dw;
  });
}

}  // namespace

BG_REGISTER_LAYOUT_AWARE_KERNEL(Conv2dFwd, kCpu, conv2d_fwd_onednn);
BG_REGISTER_LAYOUT_AWARE_KERNEL(Conv2dAddFwd, kCpu, conv2d_add_fwd_onednn);
BG_REGISTER_LAYOUT_AWARE_KERNEL(Conv2dBwdData, kCpu, conv2d_bwd_data_onednn);
BG_REGISTER_LAYOUT_AWARE_KERNEL(Conv2dBwdWeight, kCpu, conv2d_bwd_weight_onednn);

}  // namespace bitgrad::onednn
