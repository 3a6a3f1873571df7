// The im2col + GEMM convolution; the algorithm and the layouts are described in the header.
//
// im2col and col2im are OpenMP-parallel; the GEMMs and reorders thread themselves.
#include "ops/cpu/conv/gemm.h"

#include <algorithm>
#include <cstring>

#include "ops/cpu/common/onednn_context.h"
#include "ops/cpu/common/onednn_layout.h"

namespace bitgrad::onednn {
namespace {

using dnnl::memory;

// The GEMM path pays off on small feature maps; above this many floats in the column matrix
// (128 MiB) the direct convolution is the better use of memory bandwidth anyway.
constexpr int64_t kMaxColumnFloats = int64_t{1} << 25;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A 4-d activation stored plain (block 1) or as nChw<block>c; channels padded to whole blocks.
struct Activation {
  float* data;
  int64_t n, c, h, w, block;

  int64_t blocks() const { return ceil_div(c, block); }
  // The `block` channels of block cb at pixel (y, x) of image i.
  float* at(int64_t i, int64_t cb, int64_t y, int64_t x) const {
    return data + (((i * blocks() + cb) * h + y) * w + x) * block;
  }
};

Activation activation(const Tensor& t, int64_t block) {
  BG_ASSERT(block > 0, "conv2d gemm: unsupported layout of a ", t.shape(), " activation");
  const Shape& s = t.shape();
  return {static_cast<float*>(const_cast<void*>(t.raw_data())), s[0], s[1], s[2], s[3], block};
}

// t itself when the loops can read its layout, else its plain copy.
Tensor readable(const Tensor& t) { return channel_block(t) > 0 ? t : t.to_plain(); }

// A convolution's sizes; strides, padding and dilation per spatial dim (dilation 1 = dense).
struct Geometry {
  int64_t n, c, h, w;  // input
  int64_t o, kh, kw;   // weights
  int64_t oh, ow;      // output
  int64_t sh, sw, ph, pw, dh, dw;

  int64_t rows() const { return n * oh * ow; }  // of the column matrix: one per output pixel
  int64_t columns() const { return c * kh * kw; }  // one per weight of an output channel
  int64_t taps() const { return kh * kw; }
};

Geometry geometry(const Shape& x, const Shape& w, const Conv2dAttrs& a) {
  Shape y = conv2d_output_shape(x, w, a);
  return {x[0], x[1], x[2], x[3], w[0], w[2], w[3], y[2], y[3],
          a.stride[0], a.stride[1], a.padding[0], a.padding[1], a.dilation[0], a.dilation[1]};
}

Tensor scratch(int64_t floats) { return empty({floats}, DType::kFloat32); }

// col (rows, columns): row (i, oy, ox) holds the taps output pixel (oy, ox) of image i reads,
// in OIHW weight order (column (c * KH + ky) * KW + kx), zeros where a tap falls into the
// padding. The channels of a block at one tap land KH * KW apart within the row, which stays in
// cache.
void im2col(const Activation& x, const Geometry& g, float* col) {
  const int64_t columns = g.columns(), taps = g.taps(), block = x.block;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < g.rows(); ++r) {
    const int64_t i = r / (g.oh * g.ow), oy = r / g.ow % g.oh, ox = r % g.ow;
    float* row = col + r * columns;
    for (int64_t cb = 0; cb < x.blocks(); ++cb) {
      const int64_t lanes = std::min(block, g.c - cb * block);  // the last block may be short
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        const int64_t iy = oy * g.sh - g.ph + ky * g.dh;
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const int64_t ix = ox * g.sw - g.pw + kx * g.dw;
          float* dst = row + cb * block * taps + ky * g.kw + kx;
          if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) {
            const float* src = x.at(i, cb, iy, ix);
            for (int64_t l = 0; l < lanes; ++l) dst[l * taps] = src[l];
          } else {
            for (int64_t l = 0; l < lanes; ++l) dst[l * taps] = 0;
          }
        }
      }
    }
  }
}

// dx = the sum, over every tap of every output pixel, of the column entry onto the pixel it
// read (im2col's adjoint). Each thread owns whole (image, channel block) planes of dx; padding
// channels stay zero.
void col2im(const float* dcol, const Geometry& g, const Activation& dx) {
  const int64_t columns = g.columns(), taps = g.taps(), block = dx.block;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t i = 0; i < g.n; ++i) {
    for (int64_t cb = 0; cb < dx.blocks(); ++cb) {
      const int64_t lanes = std::min(block, g.c - cb * block);
      std::memset(dx.at(i, cb, 0, 0), 0, g.h * g.w * block * sizeof(float));
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const float* src = dcol + ((i * g.oh + oy) * g.ow + ox) * columns + cb * block * taps;
          for (int64_t ky = 0; ky < g.kh; ++ky) {
            const int64_t iy = oy * g.sh - g.ph + ky * g.dh;
            if (iy < 0 || iy >= g.h) continue;
            for (int64_t kx = 0; kx < g.kw; ++kx) {
              const int64_t ix = ox * g.sw - g.pw + kx * g.dw;
              if (ix < 0 || ix >= g.w) continue;
              float* d = dx.at(i, cb, iy, ix);
              const float* s = src + ky * g.kw + kx;
              for (int64_t l = 0; l < lanes; ++l) d[l] += s[l * taps];
            }
          }
        }
      }
    }
  }
}

float* floats(const Buffer& b) { return static_cast<float*>(b.memory.get_data_handle()); }

// rows (N * H * W, C), row (i, y, x) holding the channels of pixel (y, x) of image i: NHWC; t
// itself or a reordered copy.
Buffer pixel_rows(const Tensor& t) {
  return in_layout(view(t), desc_with_tag(t.shape(), memory::format_tag::acdb));
}

}  // namespace

bool gemm_conv_supported(const Shape& x_shape, const Shape& w_shape, const Conv2dAttrs& attrs) {
  if (attrs.groups != 1 || x_shape.rank() != 4) return false;
  Geometry g = geometry(x_shape, w_shape, attrs);
  return g.rows() * g.columns() <= kMaxColumnFloats;
}

bool gemm_conv_can_write(const memory::desc& desc) { return channel_block_of(desc) > 0; }

Tensor conv2d_fwd_gemm(const Tensor& x_in, const Tensor& w, const Conv2dAttrs& attrs,
                       const memory::desc& y_desc) {
  Tensor x = readable(x_in), w_plain = w.to_plain();  // w: (O, C*KH*KW) as it is
  Geometry g = geometry(x.shape(), w.shape(), attrs);
  Shape y_shape = {g.n, g.o, g.oh, g.ow};
  Tensor col = scratch(g.rows() * g.columns()), y_rows = scratch(g.rows() * g.o);
  im2col(activation(x, channel_block(x)), g, col.mutable_data<float>());
  sgemm("conv2d gemm", false, true, g.rows(), g.o, g.columns(), col.data<float>(),
        w_plain.data<float>(), y_rows.mutable_data<float>());
  Tensor y = empty_with_desc(y_shape, DType::kFloat32, y_desc);
  reorder(view(y_rows, desc_with_tag(y_shape, memory::format_tag::acdb)).memory,
          view(y).memory);
  return y;
}

Tensor conv2d_bwd_data_gemm(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                            const Conv2dAttrs& attrs, const memory::desc& dx_desc) {
  Geometry g = geometry(x_shape, w.shape(), attrs);
  Buffer dy_rows = pixel_rows(dy);
  Tensor w_plain = w.to_plain();
  Tensor dx = empty_with_desc(x_shape, DType::kFloat32, dx_desc);
  Tensor dcol = scratch(g.rows() * g.columns());
  sgemm("conv2d gemm", false, false, g.rows(), g.columns(), g.o, floats(dy_rows),
        w_plain.data<float>(), dcol.mutable_data<float>());
  col2im(dcol.data<float>(), g, activation(dx, channel_block_of(dx_desc)));
  return dx;
}

Tensor conv2d_bwd_weight_gemm(const Tensor& dy, const Tensor& x_in, const Shape& w_shape,
                              const Conv2dAttrs& attrs) {
  Tensor x = readable(x_in);
  Geometry g = geometry(x.shape(), w_shape, attrs);
  Buffer dy_rows = pixel_rows(dy);
  Tensor dw = empty(w_shape, DType::kFloat32), col = scratch(g.rows() * g.columns());
  im2col(activation(x, channel_block(x)), g, col.mutable_data<float>());
  sgemm("conv2d gemm", true, false, g.o, g.columns(), g.rows(), floats(dy_rows), col.data<float>(),
        dw.mutable_data<float>());
  return dw;
}

}  // namespace bitgrad::onednn
