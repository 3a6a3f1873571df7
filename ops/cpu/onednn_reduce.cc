// oneDNN sums. oneDNN's reduction primitive is only fast (jit) when the reduced dims are the
// innermost ones of the layout; anything else gets its reference code, hundreds of times slower.
// So: sums over the spatial dims of a blocked (N, C, H, W) tensor (global average pooling, conv
// bias gradients) use average pooling scaled by H * W; sums over trailing dims of a plain tensor
// use the reduction primitive on an (outer, inner) view; other sums run the reference kernel.
#include <algorithm>
#include <cstring>

#include "ops/cpu/onednn_context.h"
#include "ops/cpu/onednn_layout.h"
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

// Whether every reduced dim lies after every kept one, ignoring extent-1 dims: then the sum is
// over the inner part of an (outer, inner) view of the plain tensor.
bool reduces_innermost(const Shape& shape, const std::vector<int64_t>& dims) {
  bool seen_reduced = false;
  for (int64_t d = 0; d < shape.rank(); ++d) {
    if (shape[d] == 1) continue;
    bool reduced = std::binary_search(dims.begin(), dims.end(), d);
    if (!reduced && seen_reduced) return false;
    seen_reduced = seen_reduced || reduced;
  }
  return true;
}

// Sum over `dims` of a plain x; the reduction primitive when they are innermost, else ref.
Tensor sum_plain(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  if (!reduces_innermost(x.shape(), dims)) return run_reference<SumFwd>(x, dims, keepdim);
  Tensor out = empty(reduced_shape(x.shape(), dims, keepdim), x.dtype());
  int64_t outer = out.numel(), inner = x.numel() / outer;
  if (inner == 1) {  // every reduced dim has extent 1
    std::memcpy(out.mutable_raw_data(), x.raw_data(), out.nbytes());
    return out;
  }
  memory::desc src = plain_desc(memory::dims{outer, inner}, memory::data_type::f32);
  memory::desc dst = plain_desc(memory::dims{outer, 1}, memory::data_type::f32);
  CacheKey key("sum");
  key.add(src).add(dst);
  auto reduction = cached_primitive<dnnl::reduction::primitive_desc>(key, [&] {
    dnnl::reduction::desc desc(dnnl::algorithm::reduction_sum, src, dst, 0.f, 0.f);
    return dnnl::reduction::primitive_desc(desc, default_attr(), engine());
  });
  execute("sum", reduction,
          {{DNNL_ARG_SRC, view(x, src).memory}, {DNNL_ARG_DST, view(out, dst).memory}});
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

}  // namespace

BG_REGISTER_LAYOUT_AWARE_KERNEL(SumFwd, kCpu, sum_fwd_onednn);

}  // namespace bitgrad::onednn
