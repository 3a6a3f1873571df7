// Reference kernels for conv2d: direct loops over the definition in ops/conv.h. They are the
// specification the oneDNN and cuDNN kernels are tested against, so they favour obvious index
// arithmetic over speed. Every sum accumulates in double. Under bf16 autocast they compute what
// it specifies (below).
#include <vector>

#include "ops/conv.h"
#include "ops/math_mode.h"

namespace bitgrad::ref {
namespace {

// The index arithmetic shared by the three kernels, for one (N, C, H, W) input, (O, C/G, KH, KW)
// weight and (N, O, OH, OW) output.
struct ConvGeometry {
  int64_t batch, in_channels, height, width;
  int64_t out_channels, group_in_channels, kernel_h, kernel_w;
  int64_t out_h, out_w;
  int64_t out_per_group;  // O / groups
  Conv2dAttrs attrs;

  ConvGeometry(const Shape& x, const Shape& w, const Conv2dAttrs& attrs_in) : attrs(attrs_in) {
    Shape y = conv2d_output_shape(x, w, attrs);  // validates x, w and attrs together
    batch = x[0], in_channels = x[1], height = x[2], width = x[3];
    out_channels = w[0], group_in_channels = w[1], kernel_h = w[2], kernel_w = w[3];
    out_h = y[2], out_w = y[3];
    out_per_group = out_channels / attrs.groups;
  }

  Shape output_shape() const { return {batch, out_channels, out_h, out_w}; }

  // The input row / column that kernel tap (kh | kw) of output row / column (i | j) reads; may
  // fall in the zero padding (outside [0, height) / [0, width)).
  int64_t input_row(int64_t i, int64_t kh) const {
    return i * attrs.stride[0] - attrs.padding[0] + kh * attrs.dilation[0];
  }
  int64_t input_col(int64_t j, int64_t kw) const {
    return j * attrs.stride[1] - attrs.padding[1] + kw * attrs.dilation[1];
  }
  bool inside(int64_t row, int64_t col) const {
    return row >= 0 && row < height && col >= 0 && col < width;
  }
  // The input channel that channel c of output channel o's filter reads.
  int64_t input_channel(int64_t o, int64_t c) const {
    return (o / out_per_group) * group_in_channels + c;
  }

  // Flat row-major offsets.
  int64_t x_at(int64_t n, int64_t c, int64_t row, int64_t col) const {
    return ((n * in_channels + c) * height + row) * width + col;
  }
  int64_t w_at(int64_t o, int64_t c, int64_t kh, int64_t kw) const {
    return ((o * group_in_channels + c) * kernel_h + kh) * kernel_w + kw;
  }
  int64_t y_at(int64_t n, int64_t o, int64_t i, int64_t j) const {
    return ((n * out_channels + o) * out_h + i) * out_w + j;
  }
};

void check_same_dtype(const char* what, const Tensor& a, const Tensor& b) {
  BG_CHECK(a.dtype() == b.dtype(), what, ": tensors of shapes ", a.shape(), " and ", b.shape(),
           " have different dtypes (", dtype_name(a.dtype()), ", ", dtype_name(b.dtype()), ")");
}

void check_grad_shape(const char* what, const Tensor& dy, const ConvGeometry& geometry) {
  BG_CHECK(dy.shape() == geometry.output_shape(), what, ": expected an output gradient of shape ",
           geometry.output_shape(), ", got ", dy.shape());
}

// x (N, C, H, W), w (O, C/G, KH, KW), bias (O) or undefined -> y (N, O, OH, OW):
//   y[n,o,i,j] = bias[o] + sum_{c,kh,kw} x[n, g*C/G + c, i*s - p + kh*d, j*s - p + kw*d]
//                                        * w[o,c,kh,kw]
// with g = o / (O/G) and zero outside the input. Saves nothing; overwrites y.
Tensor conv2d_fwd_exact(const Tensor& x, const Tensor& w, const Tensor& bias,
                        const Conv2dAttrs& attrs) {
  ConvGeometry geo(x.shape(), w.shape(), attrs);
  check_same_dtype("conv2d", x, w);
  if (bias.defined()) {
    BG_CHECK(bias.shape() == Shape{geo.out_channels}, "conv2d: expected bias of shape (",
             geo.out_channels, ") for weight ", w.shape(), ", got ", bias.shape());
    check_same_dtype("conv2d", x, bias);
  }
  Tensor y = empty(geo.output_shape(), x.dtype());
  BG_DISPATCH_FLOAT(x.dtype(), "conv2d", [&] {
    const scalar_t* px = x.data<scalar_t>();
    const scalar_t* pw = w.data<scalar_t>();
    const scalar_t* pb = data_or_null<scalar_t>(bias);
    scalar_t* py = y.mutable_data<scalar_t>();
    for (int64_t n = 0; n < geo.batch; ++n) {
      for (int64_t o = 0; o < geo.out_channels; ++o) {
        for (int64_t i = 0; i < geo.out_h; ++i) {
          for (int64_t j = 0; j < geo.out_w; ++j) {
            double total = pb ? static_cast<double>(pb[o]) : 0.0;
            for (int64_t c = 0; c < geo.group_in_channels; ++c) {
              for (int64_t kh = 0; kh < geo.kernel_h; ++kh) {
                for (int64_t kw = 0; kw < geo.kernel_w; ++kw) {
                  int64_t row = geo.input_row(i, kh), col = geo.input_col(j, kw);
                  if (!geo.inside(row, col)) continue;  // zero padding
                  total += static_cast<double>(px[geo.x_at(n, geo.input_channel(o, c), row, col)]) *
                           static_cast<double>(pw[geo.w_at(o, c, kh, kw)]);
                }
              }
            }
            py[geo.y_at(n, o, i, j)] = static_cast<scalar_t>(total);
          }
        }
      }
    }
  });
  return y;
}

// dy (N, O, OH, OW), w (O, C/G, KH, KW) -> dx (x_shape): every output element sends
// dy * w[o,c,kh,kw] back to the input element its tap read (taps in the padding send nothing).
// Saves nothing; overwrites dx.
Tensor conv2d_bwd_data_exact(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                             const Conv2dAttrs& attrs) {
  ConvGeometry geo(x_shape, w.shape(), attrs);
  check_grad_shape("conv2d backward (data)", dy, geo);
  check_same_dtype("conv2d backward (data)", dy, w);
  Tensor dx = empty(x_shape, dy.dtype());
  BG_DISPATCH_FLOAT(dy.dtype(), "conv2d backward (data)", [&] {
    const scalar_t* pdy = dy.data<scalar_t>();
    const scalar_t* pw = w.data<scalar_t>();
    std::vector<double> totals(dx.numel(), 0.0);
    for (int64_t n = 0; n < geo.batch; ++n) {
      for (int64_t o = 0; o < geo.out_channels; ++o) {
        for (int64_t i = 0; i < geo.out_h; ++i) {
          for (int64_t j = 0; j < geo.out_w; ++j) {
            double g = pdy[geo.y_at(n, o, i, j)];
            for (int64_t c = 0; c < geo.group_in_channels; ++c) {
              for (int64_t kh = 0; kh < geo.kernel_h; ++kh) {
                for (int64_t kw = 0; kw < geo.kernel_w; ++kw) {
                  int64_t row = geo.input_row(i, kh), col = geo.input_col(j, kw);
                  if (!geo.inside(row, col)) continue;
                  totals[geo.x_at(n, geo.input_channel(o, c), row, col)] +=
                      g * static_cast<double>(pw[geo.w_at(o, c, kh, kw)]);
                }
              }
            }
          }
        }
      }
    }
    scalar_t* pdx = dx.mutable_data<scalar_t>();
    for (int64_t k = 0; k < dx.numel(); ++k) pdx[k] = static_cast<scalar_t>(totals[k]);
  });
  return dx;
}

// dy (N, O, OH, OW), x (N, C, H, W) -> dw (w_shape):
//   dw[o,c,kh,kw] = sum_{n,i,j} dy[n,o,i,j] x[n, g*C/G + c, i*s - p + kh*d, j*s - p + kw*d].
// Saves nothing; overwrites dw.
Tensor conv2d_bwd_weight_ref(const Tensor& dy, const Tensor& x, const Shape& w_shape,
                             const Conv2dAttrs& attrs) {
  ConvGeometry geo(x.shape(), w_shape, attrs);
  check_grad_shape("conv2d backward (weight)", dy, geo);
  check_same_dtype("conv2d backward (weight)", dy, x);
  Tensor dw = empty(w_shape, dy.dtype());
  BG_DISPATCH_FLOAT(dy.dtype(), "conv2d backward (weight)", [&] {
    const scalar_t* pdy = dy.data<scalar_t>();
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* pdw = dw.mutable_data<scalar_t>();
    for (int64_t o = 0; o < geo.out_channels; ++o) {
      for (int64_t c = 0; c < geo.group_in_channels; ++c) {
        for (int64_t kh = 0; kh < geo.kernel_h; ++kh) {
          for (int64_t kw = 0; kw < geo.kernel_w; ++kw) {
            double total = 0.0;
            for (int64_t n = 0; n < geo.batch; ++n) {
              for (int64_t i = 0; i < geo.out_h; ++i) {
                for (int64_t j = 0; j < geo.out_w; ++j) {
                  int64_t row = geo.input_row(i, kh), col = geo.input_col(j, kw);
                  if (!geo.inside(row, col)) continue;
                  total += static_cast<double>(pdy[geo.y_at(n, o, i, j)]) *
                           static_cast<double>(px[geo.x_at(n, geo.input_channel(o, c), row, col)]);
                }
              }
            }
            pdw[geo.w_at(o, c, kh, kw)] = static_cast<scalar_t>(total);
          }
        }
      }
    }
  });
  return dw;
}

// bf16 autocast (ops/math_mode.h) of a float32 forward or backward-data pass: its operands
// rounded to bf16, the sum exact, a bias added, the result rounded to bf16. The weight gradient
// is the float32 one, as the CPU computes it (the GPU's, rounded to bf16, is within a rounding).

// t (plain float32 or undefined) with each value rounded to the nearest bf16.
Tensor rounded_to_bf16(const Tensor& t) {
  if (!t.defined()) return t;
  Tensor out = empty(t.shape(), DType::kFloat32);
  const float* in = t.data<float>();
  float* rounded = out.mutable_data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) rounded[i] = static_cast<float>(BFloat16(in[i]));
  return out;
}

Tensor conv2d_fwd_ref(const Tensor& x, const Tensor& w, const Tensor& bias,
                      const Conv2dAttrs& attrs) {
  if (!bf16_autocast_applies(x)) return conv2d_fwd_exact(x, w, bias, attrs);
  return rounded_to_bf16(conv2d_fwd_exact(rounded_to_bf16(x), rounded_to_bf16(w), bias, attrs));
}

Tensor conv2d_bwd_data_ref(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                           const Conv2dAttrs& attrs) {
  if (!bf16_autocast_applies(dy)) return conv2d_bwd_data_exact(dy, w, x_shape, attrs);
  return rounded_to_bf16(
      conv2d_bwd_data_exact(rounded_to_bf16(dy), rounded_to_bf16(w), x_shape, attrs));
}

// y = conv2d(x, w) + addend, the sum in the data's precision after the conv's (as two ops
// would give). Saves nothing; overwrites y, never the addend (reuse_addend only permits it).
Tensor conv2d_add_fwd_ref(const Tensor& x, const Tensor& w, const Tensor& addend,
                          const Conv2dAttrs& attrs, bool /*reuse_addend*/) {
  Tensor y = conv2d_fwd_ref(x, w, Tensor(), attrs);
  BG_CHECK(addend.shape() == y.shape() && addend.dtype() == y.dtype(), "conv2d_add: the addend ",
           "is ", addend.shape(), " ", dtype_name(addend.dtype()), ", the convolution gives ",
           y.shape(), " ", dtype_name(y.dtype()));
  BG_DISPATCH_FLOAT(y.dtype(), "conv2d_add", [&] {
    scalar_t* py = y.mutable_data<scalar_t>();
    const scalar_t* pa = addend.data<scalar_t>();
    for (int64_t i = 0; i < y.numel(); ++i) py[i] += pa[i];
  });
  return y;
}

}  // namespace

BG_REGISTER_KERNEL(Conv2dFwd, kRef, conv2d_fwd_ref);
BG_REGISTER_KERNEL(Conv2dAddFwd, kRef, conv2d_add_fwd_ref);
BG_REGISTER_KERNEL(Conv2dBwdData, kRef, conv2d_bwd_data_ref);
BG_REGISTER_KERNEL(Conv2dBwdWeight, kRef, conv2d_bwd_weight_ref);

}  // namespace bitgrad::ref
