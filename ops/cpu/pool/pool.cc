// oneDNN max pooling. x keeps its layout (nChw8c or nChw16c between oneDNN ops). For such
// channel-blocked x, MaxPool2dFwd runs the forward_inference primitive and returns no workspace,
// and the backward recomputes each window's maximum from x (max_pool_bwd_kernel.h), with the
// reference kernel's answer on ties and NaN; for other layouts it runs the training primitive
// and returns its workspace (which input won each window) as a uint8 tensor that only
// this backend's backward can read. MaxPool2dInference always runs forward_inference. Padding is
// -inf, as in ops/pool.h.
#include <unordered_map>
#include <utility>

#include "ops/cpu/common/onednn_context.h"
#include "ops/cpu/common/onednn_layout.h"
#include "ops/cpu/pool/max_pool_bwd_kernel.h"
#include "ops/pool.h"

namespace bitgrad::onednn {
namespace {

using dnnl::memory;
using PoolFwd = dnnl::pooling_forward;
using PoolBwd = dnnl::pooling_backward;

struct PoolGeometry {
  memory::dims dst, strides, kernel, padding;
};

PoolGeometry pool_geometry(const Shape& x, const Pool2dAttrs& attrs) {
  Shape y = max_pool2d_output_shape(x, attrs);
  return {to_dims(y),
          {attrs.stride[0], attrs.stride[1]},
          {attrs.kernel[0], attrs.kernel[1]},
          {attrs.padding[0], attrs.padding[1]}};
}

// The forward primitive for x's layout; the training one (with a workspace) is also the hint the
// backward primitive needs.
CachedPrimitive<PoolFwd::primitive_desc> forward_primitive(
    const memory::desc& src, const PoolGeometry& g,
    dnnl::prop_kind kind = dnnl::prop_kind::forward_training) {
  CacheKey key(kind == dnnl::prop_kind::forward_training ? "max_pool2d" : "max_pool2d_inference");
  key.add(src).add(g.strides).add(g.kernel).add(g.padding);
  return cached_primitive<PoolFwd::primitive_desc>(key, [&] {
    memory::desc dst(g.dst, memory::data_type::f32, memory::format_tag::any);
    PoolFwd::desc desc(kind, dnnl::algorithm::pooling_max, src, dst, g.strides, g.kernel,
                       g.padding, g.padding);
    return PoolFwd::primitive_desc(desc, default_attr(), engine());
  });
}

// y (N, C, OH, OW) in the primitive's layout (x's) and, for forward_training, the workspace:
// uint8 bytes recording each window's maximum (undefined for forward_inference).
MaxPool2dResult run_forward(const Tensor& x, const Pool2dAttrs& attrs, dnnl::prop_kind kind) {
  PoolGeometry g = pool_geometry(x.shape(), attrs);
  Buffer src = view(x);
  auto pool = forward_primitive(src.desc(), g, kind);
  MaxPool2dResult result;
  result.y = empty_with_desc(Shape(g.dst.begin(), g.dst.end()), x.dtype(), pool.pd.dst_desc());
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src.memory},
                                          {DNNL_ARG_DST, view(result.y).memory}};
  if (kind == dnnl::prop_kind::forward_training) {
    memory::desc workspace_desc = pool.pd.workspace_desc();
    result.workspace =
        empty({static_cast<int64_t>(workspace_desc.get_size())}, DType::kUInt8);
    args[DNNL_ARG_WORKSPACE] = view(result.workspace, workspace_desc).memory;
  }
  execute("max_pool2d", pool, std::move(args));
  return result;
}

// Whether the backward recomputes the maxima from x (max_pool_bwd_kernel.h): x nChw8c or nChw16c.
bool backward_recomputes_maxima(const Tensor& x) {
  return cpu::max_pool_bwd_supports_block(channel_block(x));
}

// y, and the workspace where the backward needs one (run_forward). Overwrites both.
MaxPool2dResult max_pool2d_fwd_onednn(const Tensor& x, const Pool2dAttrs& attrs) {
  if (x.dtype() != DType::kFloat32 || x.numel() == 0) {
    return run_reference<MaxPool2dFwd>(x, attrs);
  }
  return translate_errors("max_pool2d", [&] {
    return run_forward(x, attrs,
                       backward_recomputes_maxima(x) ? dnnl::prop_kind::forward_inference
                                                     : dnnl::prop_kind::forward_training);
  });
}

// y alone, from oneDNN's forward_inference pooling: no workspace to write.
Tensor max_pool2d_inference_onednn(const Tensor& x, const Pool2dAttrs& attrs) {
  if (x.dtype() != DType::kFloat32 || x.numel() == 0) {
    return run_reference<MaxPool2dInference>(x, attrs);
  }
  return translate_errors("max_pool2d", [&] {
    return run_forward(x, attrs, dnnl::prop_kind::forward_inference).y;
  });
}

// dx from dy and x alone (x channel-blocked): max_pool_bwd_kernel.h.
Tensor max_pool2d_bwd_recomputing(const Tensor& dy, const Tensor& x, const Pool2dAttrs& attrs,
                                  const Shape& y_shape) {
  cpu::MaxPoolShape shape;
  shape.block = channel_block(x);
  Buffer dy_blocked = in_layout(view(dy), desc_with_channel_block(y_shape, shape.block));
  shape.batch = x.size(0);
  shape.channels = x.size(1);
  shape.in_h = x.size(2);
  shape.in_w = x.size(3);
  shape.out_h = y_shape[2];
  shape.out_w = y_shape[3];
  shape.kernel_h = attrs.kernel[0];
  shape.kernel_w = attrs.kernel[1];
  shape.stride_h = attrs.stride[0];
  shape.stride_w = attrs.stride[1];
  shape.pad_h = attrs.padding[0];
  shape.pad_w = attrs.padding[1];
  Tensor dx = empty_like_layout(x);
  cpu::max_pool_bwd_blocked(shape, static_cast<const float*>(x.raw_data()),
                           static_cast<const float*>(dy_blocked.memory.get_data_handle()),
                           static_cast<float*>(dx.mutable_raw_data()));
  return dx;
}

// dx (x's shape and layout) from dy and the forward's workspace; each dy goes to its window's
// maximum. Overwrites dx.
Tensor max_pool2d_bwd_onednn(const Tensor& dy, const Tensor& x, const Tensor& workspace,
                             const Pool2dAttrs& attrs) {
  if (dy.dtype() != DType::kFloat32 || x.dtype() != DType::kFloat32 || x.numel() == 0) {
    return run_reference<MaxPool2dBwd>(dy, x, workspace, attrs);
  }
  return translate_errors("max_pool2d backward", [&] {
    PoolGeometry g = pool_geometry(x.shape(), attrs);
    Shape y_shape(g.dst.begin(), g.dst.end());
    BG_CHECK(dy.shape() == y_shape, "max_pool2d backward: dy has shape ", dy.shape(),
             " but pooling ", x.shape(), " gives ", y_shape);
    if (!workspace.defined() && backward_recomputes_maxima(x)) {
      return max_pool2d_bwd_recomputing(dy, x, attrs, y_shape);
    }
    Buffer src = view(x);
    auto forward = forward_primitive(src.desc(), g);
    memory::desc workspace_desc = forward.pd.workspace_desc();
    auto workspace_bytes = static_cast<int64_t>(workspace_desc.get_size());
    BG_CHECK(workspace.defined() && workspace.dtype() == DType::kUInt8 && workspace.is_plain() &&
                 workspace.shape() == Shape{workspace_bytes},
             "max_pool2d backward: expected the oneDNN forward's workspace (uint8, shape (",
             workspace_bytes, ")), got ",
             workspace.defined() ? dtype_name(workspace.dtype()) : "an undefined tensor", " ",
             workspace.defined() ? workspace.shape().str() : "",
             "; run the forward and backward on the same backend");
    CacheKey key("max_pool2d_bwd");
    key.add(src.desc()).add(g.strides).add(g.kernel).add(g.padding);
    auto pool = cached_primitive<PoolBwd::primitive_desc>(key, [&] {
      PoolBwd::desc desc(dnnl::algorithm::pooling_max, src.desc(), forward.pd.dst_desc(),
                         g.strides, g.kernel, g.padding, g.padding);
      return PoolBwd::primitive_desc(desc, default_attr(), engine(), forward.pd);
    });
    Buffer diff_dst = in_layout(view(dy), pool.pd.diff_dst_desc());
    Tensor dx = empty_with_desc(x.shape(), x.dtype(), pool.pd.diff_src_desc());
    execute("max_pool2d backward", pool,
            {{DNNL_ARG_DIFF_DST, diff_dst.memory},
             {DNNL_ARG_WORKSPACE, view(workspace, workspace_desc).memory},
             {DNNL_ARG_DIFF_SRC, view(dx).memory}});
    return dx;
  });
}

}  // namespace

BG_REGISTER_LAYOUT_AWARE_KERNEL(MaxPool2dFwd, kCpu, max_pool2d_fwd_onednn);
BG_REGISTER_LAYOUT_AWARE_KERNEL(MaxPool2dInference, kCpu, max_pool2d_inference_onednn);
BG_REGISTER_LAYOUT_AWARE_KERNEL(MaxPool2dBwd, kCpu, max_pool2d_bwd_onednn);

}  // namespace bitgrad::onednn
