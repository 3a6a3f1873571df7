// CPU sums, and expand, their adjoint. Sums over the spatial dims of a blocked (N, C, H, W) tensor
// (global average pooling, conv bias gradients) use oneDNN average pooling scaled by H * W, which
// keeps the blocked layout.
// Plain sums whose reduced dims are consecutive use an OpenMP loop that accumulates in double:
// oneDNN's reduction primitive accumulates in float (1e-4 relative error over 1e5 terms) and is
// only jit-compiled for innermost dims. Other sums run the reference kernel. Expand (the
// backward of sum and mean) is an OpenMP copy loop over the same (outer, reduced, inner) view.
#include <algorithm>
#include <vector>

#include "ops/cpu/common/onednn_context.h"
#include "ops/cpu/common/onednn_layout.h"
#include "ops/reduce.h"
#include "ops/shape_utils.h"

namespace bitgrad::onednn {
namespace {

using dnnl::memory;

// sum over (H, W) of a 4-d x in any layout -> (N, C, 1, 1) in the pooling primitive's layout.
Tensor spatial_sum(const Tensor& x) {
  Buffer src = view(x);
  int64_t height = x.size(2), width = x.size(3);
  CacheKey key("sum_spatial");
  key.add(src.desc());
  auto pool = cached_primitive<dnnl::pooling_forward::primitive_desc>(key, [&] {
    memory::desc dst({x.size(0), x.size(1), 1, 1}, memory::data_type::f32,
                     memory::format_tag::any);
    dnnl::pooling_forward::desc desc(dnnl::prop_kind::forward_inference,
                                     dnnl::algorithm::pooling_avg_exclude_padding, src.desc(),
                                     dst, {1, 1}, {height, width}, {0, 0}, {0, 0});
    dnnl::post_ops scale_to_sum;
    scale_to_sum.append_eltwise(1.f, dnnl::algorithm::eltwise_linear,
                                static_cast<float>(height * width), 0.f);
    dnnl::primitive_attr attr = default_attr();
    attr.set_post_ops(scale_to_sum);
    return dnnl::pooling_forward::primitive_desc(desc, attr, engine());
  });
  Tensor y = empty_with_desc({x.size(0), x.size(1), 1, 1}, x.dtype(), pool.pd.dst_desc());
  execute("sum", pool, {{DNNL_ARG_SRC, src.memory}, {DNNL_ARG_DST, view(y).memory}});
  return y;
}

// The reduced dims as one block of an (outer, reduced, inner) view, ignoring extent-1 dims;
// false when kept dims of extent > 1 lie between reduced ones.
bool as_middle_block(const Shape& shape, const std::vector<int64_t>& dims, int64_t& outer,
                     int64_t& reduced, int64_t& inner) {
  outer = reduced = inner = 1;
  for (int64_t d = 0; d < shape.rank(); ++d) {
    if (shape[d] == 1) continue;
    if (std::binary_search(dims.begin(), dims.end(), d)) {
      if (inner > 1) return false;  // a second block of reduced dims
      reduced *= shape[d];
    } else {
      (reduced > 1 ? inner : outer) *= shape[d];
    }
  }
  return true;
}

// out[o, i] = sum over r of x[o, r, i], accumulated in double; work is split over (o, block of
// i), or over r when there is a single output.
void sum_middle(const float* x, float* out, int64_t outer, int64_t reduced, int64_t inner) {
  if (outer * inner == 1) {
    double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (int64_t r = 0; r < reduced; ++r) total += x[r];
    out[0] = static_cast<float>(total);
    return;
  }
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int64_t task = 0; task < outer * blocks; ++task) {
    const int64_t o = task / blocks, begin = (task % blocks) * kBlock;
    const int64_t count = std::min(kBlock, inner - begin);
    double totals[kBlock] = {};
    for (int64_t r = 0; r < reduced; ++r) {
      const float* row = x + (o * reduced + r) * inner + begin;
      for (int64_t i = 0; i < count; ++i) totals[i] += row[i];
    }
    for (int64_t i = 0; i < count; ++i) out[o * inner + begin + i] = static_cast<float>(totals[i]);
  }
}

// Sum over `dims` of a plain float32 x: the loop above when the reduced dims form one block,
// else the reference kernel.
Tensor sum_plain(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  int64_t outer, reduced, inner;
  if (!as_middle_block(x.shape(), dims, outer, reduced, inner)) {
    return run_reference<SumFwd>(x, dims, keepdim);
  }
  Tensor out = empty(reduced_shape(x.shape(), dims, keepdim), x.dtype());
  sum_middle(x.data<float>(), out.mutable_data<float>(), outer, reduced, inner);
  return out;
}

// out = sum of x over `dims` (sorted, unique), x in any layout. A blocked (N, C, H, W) x summed
// over (H, W) with keepdim gives a blocked (N, C, 1, 1); every other result is plain.
// Overwrites out.
Tensor sum_fwd_onednn(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  if (x.dtype() != DType::kFloat32 || x.numel() == 0 || dims.empty()) {
    return run_reference<SumFwd>(x, dims, keepdim);
  }
  return translate_errors("sum", [&] {
    Shape out_shape = reduced_shape(x.shape(), dims, keepdim);
    bool spatial = x.dim() == 4 && std::binary_search(dims.begin(), dims.end(), 2) &&
                   std::binary_search(dims.begin(), dims.end(), 3);
    if (!has_onednn_layout(x) || !spatial) return sum_plain(x.to_plain(), dims, keepdim);
    Tensor pooled = spatial_sum(x);
    std::vector<int64_t> rest;
    for (int64_t d : dims) {
      if (d < 2) rest.push_back(d);
    }
    if (rest.empty() && keepdim) return pooled;
    Tensor plain = pooled.to_plain();
    if (rest.empty()) return plain.view(out_shape);
    return sum_plain(plain, rest, /*keepdim=*/true).view(out_shape);
  });
}

// out = x broadcast to `shape`, x plain. When x has shape's rank and its broadcast dims (extent 1
// in x, more in shape) form one block, out[o, r, i] = x[o, i] in the (outer, reduced, inner) view
// of shape; anything else runs the reference kernel.
Tensor expand_fwd_cpu(const Tensor& x, const Shape& shape) {
  std::vector<int64_t> broadcast_dims;
  bool same_rank = x.dim() == shape.rank();
  for (int64_t d = 0; same_rank && d < shape.rank(); ++d) {
    if (x.size(d) != shape[d]) broadcast_dims.push_back(d);
  }
  int64_t outer, reduced, inner;
  if (x.dtype() != DType::kFloat32 || !same_rank || shape.numel() == 0 ||
      !as_middle_block(shape, broadcast_dims, outer, reduced, inner) ||
      outer * inner != x.numel()) {
    return run_reference<ExpandFwd>(x, shape);
  }
  Tensor out = empty(shape, x.dtype());
  const float* px = x.data<float>();
  float* po = out.mutable_data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < outer; ++o) {
    const float* from = px + o * inner;
    float* to = po + o * reduced * inner;
    if (inner == 1) {
      std::fill(to, to + reduced, *from);  // the mean backward: one value per (n, c)
    } else {
      for (int64_t r = 0; r < reduced; ++r) std::copy(from, from + inner, to + r * inner);
    }
  }
  return out;
}

}  // namespace

BG_REGISTER_LAYOUT_AWARE_KERNEL(SumFwd, kCpu, sum_fwd_onednn);
BG_REGISTER_KERNEL(ExpandFwd, kCpu, expand_fwd_cpu);

}  // namespace bitgrad::onednn
