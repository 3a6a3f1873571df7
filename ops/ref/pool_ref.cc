// Reference kernels for max_pool2d. The workspace they exchange is an int64 tensor of the
// output's shape holding, for each output, the flat index h * W + w of its maximum within the
// (n, c) input plane. Other backends keep other workspaces, so the backward checks it.
#include <cmath>
#include <vector>

#include "ops/pool.h"

namespace bitgrad::ref {
namespace {

// x (N, C, H, W) -> y (N, C, OH, OW) and the int64 argmax workspace (N, C, OH, OW).
// y[n,c,i,j] = max of x[n,c] over rows i*s - p .. i*s - p + k - 1 and the matching columns;
// the padding is -inf, so only real elements can win (every window holds at least one when
// padding <= kernel / 2). Ties keep the first element in row-major window order; a NaN wins
// over numbers, so it propagates. Overwrites y and the workspace.
MaxPool2dResult max_pool2d_fwd_ref(const Tensor& x, const Pool2dAttrs& attrs) {
  Shape out_shape = max_pool2d_output_shape(x.shape(), attrs);
  const int64_t planes = x.size(0) * x.size(1), height = x.size(2), width = x.size(3);
  const int64_t out_h = out_shape[2], out_w = out_shape[3];
  MaxPool2dResult result{empty(out_shape, x.dtype()), empty(out_shape, DType::kInt64)};
  BG_DISPATCH_FLOAT(x.dtype(), "max_pool2d", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* py = result.y.mutable_data<scalar_t>();
    int64_t* argmax = result.workspace.mutable_data<int64_t>();
    for (int64_t plane = 0; plane < planes; ++plane) {
      const scalar_t* in = px + plane * height * width;
      for (int64_t i = 0; i < out_h; ++i) {
        for (int64_t j = 0; j < out_w; ++j) {
          int64_t best = -1;  // no real element seen yet
          for (int64_t kh = 0; kh < attrs.kernel[0]; ++kh) {
            for (int64_t kw = 0; kw < attrs.kernel[1]; ++kw) {
              int64_t row = i * attrs.stride[0] - attrs.padding[0] + kh;
              int64_t col = j * attrs.stride[1] - attrs.padding[1] + kw;
              if (row < 0 || row >= height || col < 0 || col >= width) continue;  // -inf
              int64_t index = row * width + col;
              bool wins = best < 0 || in[index] > in[best] ||
                          (std::isnan(in[index]) && !std::isnan(in[best]));
              if (wins) best = index;
            }
          }
          BG_ASSERT(best >= 0, "max_pool2d: a window holds only padding");
          int64_t out = (plane * out_h + i) * out_w + j;
          py[out] = in[best];
          argmax[out] = best;
        }
      }
    }
  });
  return result;
}

// dy (N, C, OH, OW), x (N, C, H, W), workspace (the forward's int64 argmax) -> dx (N, C, H, W):
// each dy is added to the input element that was its window's maximum. Overwrites dx.
Tensor max_pool2d_bwd_ref(const Tensor& dy, const Tensor& x, const Tensor& workspace,
                          const Pool2dAttrs& attrs) {
  const Shape out_shape = check_argmax_pool_backward(dy, x, workspace, attrs, "reference");
  const int64_t planes = x.size(0) * x.size(1), plane_size = x.size(2) * x.size(3);
  const int64_t outs_per_plane = out_shape[2] * out_shape[3];
  Tensor dx = empty_like(x);
  BG_DISPATCH_FLOAT(dy.dtype(), "max_pool2d backward", [&] {
    const scalar_t* pdy = dy.data<scalar_t>();
    const int64_t* argmax = workspace.data<int64_t>();
    std::vector<double> totals(dx.numel(), 0.0);
    for (int64_t plane = 0; plane < planes; ++plane) {
      for (int64_t k = 0; k < outs_per_plane; ++k) {
        int64_t out = plane * outs_per_plane + k;
        BG_CHECK(argmax[out] >= 0 && argmax[out] < plane_size, "max_pool2d backward: workspace ",
                 "entry ", out, " is ", argmax[out], ", outside the ", x.size(2), "x", x.size(3),
                 " input plane of ", x.shape());
        totals[plane * plane_size + argmax[out]] += static_cast<double>(pdy[out]);
      }
    }
    scalar_t* pdx = dx.mutable_data<scalar_t>();
    for (int64_t k = 0; k < dx.numel(); ++k) pdx[k] = static_cast<scalar_t>(totals[k]);
  });
  return dx;
}

}  // namespace

// The forward's y; the reference computes the workspace anyway, it costs nothing to speak of.
Tensor max_pool2d_inference_ref(const Tensor& x, const Pool2dAttrs& attrs) {
  return max_pool2d_fwd_ref(x, attrs).y;
}

BG_REGISTER_KERNEL(MaxPool2dFwd, kRef, max_pool2d_fwd_ref);
BG_REGISTER_KERNEL(MaxPool2dInference, kRef, max_pool2d_inference_ref);
BG_REGISTER_KERNEL(MaxPool2dBwd, kRef, max_pool2d_bwd_ref);

}  // namespace bitgrad::ref
