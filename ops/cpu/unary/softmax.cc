// CPU kernels for softmax and log_softmax, on plain tensors (the dispatcher makes blocked ones
// plain), float32; float64 and empty tensors go to the reference kernels.
//
// Every kernel works on rows: each softmax's elements adjacent, which along any dim but the
// last means transposed copies (oneDNN reorders; cheaper than striding, and oneDNN's jit softmax
// takes nothing else). softmax's forward is oneDNN's jit softmax (exp and a division, accurate
// to float rounding). The rest are OpenMP loops: oneDNN's log_softmax takes log(sum) with its
// eltwise log, up to 3.4e-6 off near 1, which gives a confident class a positive
// log-probability; and oneDNN 2.6's softmax backward is jit on AVX-512 only ("ref:any" on
// AVX2), so the backward passes are loops that give the same bits on every machine. Sums are
// in double, as in the reference kernels.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ops/cpu/common/onednn_context.h"
#include "ops/cpu/common/onednn_layout.h"
#include "ops/cpu/common/parallel.h"
#include "ops/shape_utils.h"
#include "ops/unary.h"

namespace bitgrad::onednn {
namespace {

using dnnl::memory;

// --- the layout the kernels work in ---

// A plain tensor as (outer, size, inner), row-major.
memory::desc plain_rows(const DimSplit& g) {
  return memory::desc({g.outer, g.size, g.inner}, memory::data_type::f32,
                      memory::format_tag::abc);
}

// The same dims with each softmax's `size` elements adjacent: (outer * inner) rows of `size`.
memory::desc adjacent_rows(const DimSplit& g) {
  return memory::desc({g.outer, g.size, g.inner}, memory::data_type::f32,
                      memory::dims{g.size * g.inner, 1, g.size});
}

// Runs rows_fn(rows, inputs' rows, output rows) over the softmaxes of g as adjacent rows: on the
// plain tensors themselves when inner == 1, else on transposed copies (oneDNN reorders), the
// output transposed back. Returns the output, plain.
template <typename RowsFn>
Tensor over_rows(const DimSplit& g, const std::vector<Tensor>& inputs,
                 const RowsFn& rows_fn) {
  Tensor out = empty(inputs[0].shape(), DType::kFloat32);
  const int64_t rows = g.outer * g.inner;
  std::vector<const float*> in;
  if (g.inner == 1) {
    for (const Tensor& t : inputs) in.push_back(t.data<float>());
    rows_fn(rows, in, out.mutable_data<float>());
    return out;
  }
  const memory::desc plain = plain_rows(g), transposed = adjacent_rows(g);
  std::vector<Buffer> copies;
  for (const Tensor& t : inputs) {
    copies.push_back(in_layout(view(t, plain), transposed));
    in.push_back(static_cast<const float*>(copies.back().memory.get_data_handle()));
  }
  Buffer result = allocate(transposed);
  rows_fn(rows, in, static_cast<float*>(result.memory.get_data_handle()));
  reorder(result.memory, view(out, plain).memory);
  return out;
}

// --- softmax forward: oneDNN ---

// y = softmax of each of `rows` rows of `size` floats, by oneDNN's jit softmax.
void softmax_rows(int64_t rows, int64_t size, const float* x, float* y) {
  const memory::desc desc({rows, size}, memory::data_type::f32, memory::format_tag::ab);
  CacheKey key("softmax");
  key.add(desc);
  auto softmax = cached_primitive<dnnl::softmax_v2_forward::primitive_desc>(key, [&] {
    dnnl::softmax_v2_forward::desc d(dnnl::prop_kind::forward_inference,
                                     dnnl::algorithm::softmax_accurate, desc, desc,
                                     /*softmax_axis=*/1);
    return dnnl::softmax_v2_forward::primitive_desc(d, default_attr(), engine());
  });
  execute("softmax", softmax,
          {{DNNL_ARG_SRC, memory(desc, engine(), const_cast<float*>(x))},
           {DNNL_ARG_DST, memory(desc, engine(), y)}});
}

// --- log_softmax forward and both backward passes: loops over rows ---

// Calls body(first) for each softmax, whose `size` elements are adjacent from element first
// on; in parallel once the tensor is large.
template <typename Body>
void for_each_row(int64_t rows, int64_t size, const Body& body) {
#pragma omp parallel for schedule(static) if (rows * size >= cpu::kParallelMinElements)
  for (int64_t r = 0; r < rows; ++r) body(r * size);
}

// y = (x - max) - log(sum(exp(x - max))) along rows of `size`.
void log_softmax_rows(int64_t rows, int64_t size, const float* x, float* y) {
  for_each_row(rows, size, [&](int64_t first) {
    const float* in = x + first;
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t k = 0; k < size; ++k) max = std::max(max, in[k]);
    double sum = 0;
    for (int64_t k = 0; k < size; ++k) sum += std::exp(in[k] - max);
    const double log_sum = std::log(sum);
    for (int64_t k = 0; k < size; ++k) {
      y[first + k] = static_cast<float>((double(in[k]) - max) - log_sum);
    }
  });
}

// dx = y * (dy - sum(dy * y)) (softmax) or dy - exp(y) * sum(dy) (log_softmax) along rows.
void softmax_bwd_rows(int64_t rows, int64_t size, SoftmaxOp op, const float* dy, const float* y,
                      float* dx) {
  for_each_row(rows, size, [&](int64_t first) {
    const float *dy_row = dy + first, *y_row = y + first;
    float* dx_row = dx + first;
    double sum = 0;
    if (op == SoftmaxOp::kSoftmax) {
      for (int64_t k = 0; k < size; ++k) sum += double(dy_row[k]) * y_row[k];
      for (int64_t k = 0; k < size; ++k) {
        dx_row[k] = static_cast<float>(y_row[k] * (dy_row[k] - sum));
      }
    } else {
      for (int64_t k = 0; k < size; ++k) sum += dy_row[k];
      for (int64_t k = 0; k < size; ++k) {
        dx_row[k] = static_cast<float>(dy_row[k] - std::exp(y_row[k]) * sum);
      }
    }
  });
}

// --- the kernels ---

// x: plain; 0 <= dim < rank. Returns y, plain. Overwrites y.
Tensor softmax_fwd_cpu(const Tensor& x, int64_t dim, SoftmaxOp op) {
  if (x.dtype() != DType::kFloat32 || x.numel() == 0) {
    return run_reference<SoftmaxFwd>(x, dim, op);
  }
  const DimSplit g = split_at_dim(x.shape(), dim);
  return translate_errors(softmax_op_name(op), [&] {
    return over_rows(g, {x}, [&](int64_t rows, const std::vector<const float*>& in, float* y) {
      if (op == SoftmaxOp::kSoftmax) {
        softmax_rows(rows, g.size, in[0], y);
      } else {
        log_softmax_rows(rows, g.size, in[0], y);
      }
    });
  });
}

// dy, y: plain, same shape. Returns dx, plain. Overwrites dx.
Tensor softmax_bwd_cpu(const Tensor& dy, const Tensor& y, int64_t dim, SoftmaxOp op) {
  if (dy.dtype() != DType::kFloat32 || y.dtype() != DType::kFloat32 || dy.numel() == 0) {
    return run_reference<SoftmaxBwd>(dy, y, dim, op);
  }
  BG_CHECK(dy.shape() == y.shape(), softmax_op_name(op), " backward: dy has shape ", dy.shape(),
           " but y has ", y.shape());
  const DimSplit g = split_at_dim(y.shape(), dim);
  return translate_errors(softmax_op_name(op), [&] {
    return over_rows(g, {dy, y},
                     [&](int64_t rows, const std::vector<const float*>& in, float* dx) {
                       softmax_bwd_rows(rows, g.size, op, in[0], in[1], dx);
                     });
  });
}

}  // namespace

BG_REGISTER_KERNEL(SoftmaxFwd, kCpu, softmax_fwd_cpu);
BG_REGISTER_KERNEL(SoftmaxBwd, kCpu, softmax_bwd_cpu);

}  // namespace bitgrad::onednn
