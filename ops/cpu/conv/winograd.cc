#include "ops/cpu/conv/winograd.h"

#include "ops/cpu/common/onednn_layout.h"
#include "ops/cpu/conv/winograd_kernel.h"

namespace bitgrad::onednn {
namespace {

using cpu::KernelOrder;
using cpu::Winograd3x3Shape;

// The kernels' shape of the conv from `in` (N, C, H, W, in channel blocks of `block`) to
// `out_channels` channels; both paddings come from attrs (the caller has checked stride 1 and a
// 3x3 kernel).
Winograd3x3Shape winograd_shape(int64_t block, const Shape& in, int64_t out_channels,
                                int64_t pad_h, int64_t pad_w) {
  Winograd3x3Shape s;
  s.block = block;
  s.batch = in[0];
  s.in_channels = in[1];
  s.out_channels = out_channels;
  s.in_h = in[2];
  s.in_w = in[3];
  s.pad_h = pad_h;
  s.pad_w = pad_w;
  return s;
}

const float* floats(const Tensor& t) { return static_cast<const float*>(t.raw_data()); }

// y = the forward of `s` on `in`, in in's layout, or undefined when the kernels cannot run it.
Tensor forward(const Winograd3x3Shape& s, const Tensor& in, const Tensor& w, KernelOrder order) {
  if (!cpu::winograd3x3_supported(s)) return Tensor();
  Tensor w_plain = w.to_plain();
  const Shape y_shape = {s.batch, s.out_channels, s.out_h(), s.out_w()};
  Tensor out = empty_with_desc(y_shape, DType::kFloat32, desc_with_channel_block(y_shape, s.block));
  Tensor scratch = empty({cpu::winograd3x3_scratch_floats(s)}, DType::kFloat32);
  cpu::winograd3x3_fwd_blocked(s, floats(in), w_plain.data<float>(), order,
                              static_cast<float*>(out.mutable_raw_data()),
                              scratch.mutable_data<float>());
  return out;
}

}  // namespace

Tensor conv2d_fwd_winograd(const Tensor& x, const Tensor& w, const Conv2dAttrs& attrs) {
  return forward(winograd_shape(channel_block(x), x.shape(), w.size(0), attrs.padding[0],
                                attrs.padding[1]),
                 x, w, KernelOrder::kOihw);
}

Tensor conv2d_bwd_data_winograd(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                                const Conv2dAttrs& attrs) {
  // The dual conv: dy in, x's channels out, padding 2 - p (negative for p > 2: unsupported).
  Winograd3x3Shape dual = winograd_shape(channel_block(dy), dy.shape(), x_shape[1],
                                         2 - attrs.padding[0], 2 - attrs.padding[1]);
  return forward(dual, dy, w, KernelOrder::kDualOf);
}

Tensor conv2d_bwd_weight_winograd(const Tensor& dy, const Tensor& x, const Shape& w_shape,
                                  const Conv2dAttrs& attrs) {
  Winograd3x3Shape s = winograd_shape(channel_block(x), x.shape(), w_shape[0], attrs.padding[0],
                                      attrs.padding[1]);
  if (channel_block(dy) != s.block || !cpu::winograd3x3_supported(s)) return Tensor();
  Tensor dw = empty(w_shape, DType::kFloat32);
  Tensor scratch = empty({cpu::winograd3x3_scratch_floats(s)}, DType::kFloat32);
  cpu::winograd3x3_bwd_weight_blocked(s, floats(x), floats(dy), dw.mutable_data<float>(),
                                      scratch.mutable_data<float>());
  return dw;
}

}  // namespace bitgrad::onednn
