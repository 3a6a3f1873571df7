// oneDNN constant padding and cropping: the output is filled with the pad value, then x's
// overlap with it is copied by a reorder between sub-memory views. A blocked (nChw8c) x stays
// blocked when only unblocked dims (H, W) change and the value is 0; BiT's zero pad before the
// root max pool is that case. Everything else runs on plain tensors.
#include <algorithm>
#include <cstring>

#include "ops/cpu/onednn_context.h"
#include "ops/cpu/onednn_layout.h"
#include "ops/pad.h"

namespace bitgrad::onednn {
namespace {

using dnnl::memory;

bool changes_blocked_dim(const memory::desc& desc, const PadAttrs& attrs) {
  const dnnl_blocking_desc_t& blocking = desc.data.format_desc.blocking;
  for (int i = 0; i < blocking.inner_nblks; ++i) {
    int64_t d = blocking.inner_idxs[i];
    if (attrs.before[d] != 0 || attrs.after[d] != 0) return true;
  }
  return false;
}

// The output layout: x's blocked format at the new extents, or empty when x must go plain.
memory::desc blocked_output_desc(const Tensor& x, const memory::dims& out_dims,
                                 const PadAttrs& attrs) {
  if (!has_onednn_layout(x) || attrs.value != 0.0) return memory::desc();
  memory::desc src = desc_of(x);
  if (src.data.format_kind != dnnl_blocked || changes_blocked_dim(src, attrs)) return memory::desc();
  memory::format_tag tag = format_tag_of(src);
  if (tag == memory::format_tag::undef) return memory::desc();
  return memory::desc(out_dims, src.data_type(), tag);
}

void fill(Tensor& y, float value) {
  if (value == 0.0f) {
    std::memset(y.mutable_raw_data(), 0, y.nbytes());
    return;
  }
  float* data = y.mutable_data<float>();
  int64_t n = y.numel();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) data[i] = value;
}

// y = x placed at offset `before` inside a tensor filled with `value`; negative amounts crop.
// y has x's blocked layout when that layout survives (see the file comment), else is plain.
// Overwrites y.
Tensor constant_pad_fwd_onednn(const Tensor& x, const PadAttrs& attrs) {
  int64_t rank = x.dim();
  BG_CHECK(static_cast<int64_t>(attrs.before.size()) == rank &&
               static_cast<int64_t>(attrs.after.size()) == rank,
           "pad: expected ", rank, " before/after amounts for shape ", x.shape(), ", got ",
           attrs.before.size(), " and ", attrs.after.size());
  Shape out_shape = x.shape();
  for (int64_t d = 0; d < rank; ++d) out_shape[d] += attrs.before[d] + attrs.after[d];
  for (int64_t d = 0; d < rank; ++d) {
    BG_CHECK(out_shape[d] >= 0, "pad: padding (", attrs.before[d], ", ", attrs.after[d],
             ") crops dimension ", d, " of shape ", x.shape(), " below zero");
  }
  if (x.dtype() != DType::kFloat32 || rank == 0 || x.numel() == 0 || out_shape.numel() == 0) {
    return run_reference<ConstantPadFwd>(x, attrs);
  }
  return translate_errors("pad", [&] {
    memory::dims out_dims = to_dims(out_shape);
    memory::desc out_desc = blocked_output_desc(x, out_dims, attrs);
    Buffer src = out_desc.is_zero() ? view(x.to_plain()) : view(x);
    if (out_desc.is_zero()) out_desc = plain_desc(out_shape, x.dtype());
    Tensor y = empty_with_desc(out_shape, x.dtype(), out_desc);
    // A pure crop overwrites all of y, except the zero channel padding of a blocked layout.
    bool crop_only = true;
    for (int64_t d = 0; d < rank; ++d) {
      crop_only = crop_only && attrs.before[d] <= 0 && attrs.after[d] <= 0;
    }
    if (!crop_only || has_padding(out_desc)) fill(y, static_cast<float>(attrs.value));
    // The overlap of x and y: where it starts in each, and its extent.
    memory::dims extent(rank), src_offset(rank), dst_offset(rank);
    for (int64_t d = 0; d < rank; ++d) {
      src_offset[d] = std::max<int64_t>(0, -attrs.before[d]);
      dst_offset[d] = std::max<int64_t>(0, attrs.before[d]);
      extent[d] = x.size(d) - src_offset[d] - std::max<int64_t>(0, -attrs.after[d]);
      if (extent[d] <= 0) return y;  // x lies entirely in the cropped part
    }
    memory::desc src_region = src.desc().submemory_desc(extent, src_offset);
    memory::desc dst_region = out_desc.submemory_desc(extent, dst_offset);
    reorder(memory(src_region, engine(), src.memory.get_data_handle()),
            memory(dst_region, engine(), y.mutable_raw_data()));
    return y;
  });
}

}  // namespace

BG_REGISTER_LAYOUT_AWARE_KERNEL(ConstantPadFwd, kCpu, constant_pad_fwd_onednn);

}  // namespace bitgrad::onednn
