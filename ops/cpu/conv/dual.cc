#include "ops/cpu/conv/dual.h"

#include <cstring>

#include "ops/cpu/common/onednn_layout.h"
#include "ops/cpu/conv/direct.h"

namespace bitgrad::onednn {
namespace {

using dnnl::memory;

// The plain (O, C, KH, KW) weights w, transposed, as the dual's (C, O, KH, KW) weights: a
// strided view, no copy.
memory::desc transposed_desc(const Shape& w) {
  const int64_t taps = w[2] * w[3];
  return memory::desc({w[1], w[0], w[2], w[3]}, memory::data_type::f32,
                      memory::dims{taps, w[1] * taps, w[3], 1});
}

// w with each kernel rotated by 180 degrees: rotated(o, c, i, j) = w(o, c, KH-1-i, KW-1-j).
Tensor rotate_kernels(const Tensor& w) {
  Tensor plain = w.to_plain();
  Tensor rotated = empty(w.shape(), DType::kFloat32);
  const int64_t kernels = w.size(0) * w.size(1), taps = w.size(2) * w.size(3);
  const float* from = plain.data<float>();
  float* to = rotated.mutable_data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < kernels; ++k) {
    const float* kernel = from + k * taps;
    for (int64_t t = 0; t < taps; ++t) to[k * taps + t] = kernel[taps - 1 - t];
  }
  return rotated;
}

// dx = zeros with compact's pixels at every (stride_h, stride_w)-th position; both nChw8c.
void scatter_strided_nchw8c(const Tensor& compact, int64_t stride_h, int64_t stride_w,
                            Tensor& dx) {
  constexpr int64_t kBlock = 8;
  const int64_t planes = dx.size(0) * ((dx.size(1) + kBlock - 1) / kBlock);
  const int64_t height = dx.size(2), width = dx.size(3);
  const int64_t compact_h = compact.size(2), compact_w = compact.size(3);
  const float* from = static_cast<const float*>(compact.raw_data());
  float* to = static_cast<float*>(dx.mutable_raw_data());
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) {
    for (int64_t h = 0; h < height; ++h) {
      float* row = to + (plane * height + h) * width * kBlock;
      if (h % stride_h != 0 || h / stride_h >= compact_h) {
        std::memset(row, 0, sizeof(float) * width * kBlock);
        continue;
      }
      const float* source = from + (plane * compact_h + h / stride_h) * compact_w * kBlock;
      for (int64_t w = 0; w < width; ++w) {
        float* pixel = row + w * kBlock;
        if (w % stride_w == 0 && w / stride_w < compact_w) {
          std::memcpy(pixel, source + (w / stride_w) * kBlock, sizeof(float) * kBlock);
        } else {
          std::memset(pixel, 0, sizeof(float) * kBlock);
        }
      }
    }
  }
}

}  // namespace

Tensor conv2d_fwd_by_dual(const Tensor& x, const Tensor& w, const Conv2dAttrs& attrs) {
  const int64_t kh = w.size(2), kw = w.size(3);
  Shape y_shape = conv2d_output_shape(x.shape(), w.shape(), attrs);
  ConvGeometry dual;  // y-shaped input, x-shaped output
  dual.src = to_dims(y_shape);
  dual.weights = {w.size(1), w.size(0), kh, kw};
  dual.dst = to_dims(x.shape());
  dual.strides = {1, 1};
  dual.dilates = {0, 0};
  dual.padding = {kh - 1 - attrs.padding[0], kw - 1 - attrs.padding[1]};
  auto conv = backward_data_primitive(dual);
  Tensor rotated = rotate_kernels(w);
  Buffer weights = in_layout(view(rotated, transposed_desc(w.shape())), conv.pd.weights_desc());
  Buffer diff_dst = in_layout(view(x), conv.pd.diff_dst_desc());
  Tensor y = empty_with_desc(y_shape, x.dtype(), conv.pd.diff_src_desc());
  execute("conv2d", conv,
          {{DNNL_ARG_DIFF_DST, diff_dst.memory},
           {DNNL_ARG_WEIGHTS, weights.memory},
           {DNNL_ARG_DIFF_SRC, view(y).memory}});
  return y;
}

Tensor conv2d_bwd_data_by_dual(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                               const Conv2dAttrs& attrs) {
  ConvGeometry dual;  // dy in, dx at the sampled pixels out
  dual.src = to_dims(dy.shape());
  dual.weights = {w.size(1), w.size(0), 1, 1};
  dual.dst = {x_shape[0], x_shape[1], dy.size(2), dy.size(3)};
  dual.strides = {1, 1};
  dual.dilates = {0, 0};
  dual.padding = {0, 0};
  auto conv = forward_primitive(dual, /*with_bias=*/false);
  const bool strided = attrs.stride[0] > 1 || attrs.stride[1] > 1;
  const memory::format_tag nchw8c = memory::format_tag::aBcd8b;
  if (strided && format_tag_of(conv.pd.dst_desc()) != nchw8c) return Tensor();
  Buffer src = in_layout(view(dy), conv.pd.src_desc());
  Buffer weights = in_layout(view(w.to_plain(), transposed_desc(w.shape())),
                             conv.pd.weights_desc());
  Tensor compact = empty_with_desc(dual.dst_shape(), dy.dtype(), conv.pd.dst_desc());
  execute("conv2d backward data", conv,
          {{DNNL_ARG_SRC, src.memory},
           {DNNL_ARG_WEIGHTS, weights.memory},
           {DNNL_ARG_DST, view(compact).memory}});
  if (!strided) return compact;
  Tensor dx = empty_with_desc(x_shape, dy.dtype(), desc_with_tag(x_shape, nchw8c));
  scatter_strided_nchw8c(compact, attrs.stride[0], attrs.stride[1], dx);
  return dx;
}

}  // namespace bitgrad::onednn
