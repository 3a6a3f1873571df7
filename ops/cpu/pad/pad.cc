// oneDNN constant padding and cropping: the output is filled with the pad value, then x's
// overlap with it is copied by a reorder between sub-memory views. A blocked (nChw8c) x stays
// blocked when only unblocked dims (H, W) change and the value is 0; BiT's zero pad before the
// root max pool is that case. Everything else runs on plain tensors.
//
// 4-d tensors padded or cropped in H and W only, plain or nChw<b>c, take a direct path that
// writes every output row once, the border with the value and the rest from x: the fill and the
// sub-memory reorder moved about twice the bytes (BiT's root pad, batch 32: 12 ms, now 6), and
// the reorder of a cropped region runs oneDNN's generic kernel, slow on small planes (the crop
// that backward makes of the root pad, at bit_finetune's default: 0.10 ms, now 0.02).
#include <algorithm>
#include <cstring>

#include "ops/cpu/common/onednn_context.h"
#include "ops/cpu/common/onednn_layout.h"
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
  if (src.data.format_kind != dnnl_blocked || changes_blocked_dim(src, attrs)) {
    return memory::desc();
  }
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

// Whether the pad only changes H and W of a 4-d tensor.
bool pads_spatial_dims_only(int64_t rank, const PadAttrs& attrs) {
  return rank == 4 && attrs.before[0] == 0 && attrs.after[0] == 0 && attrs.before[1] == 0 &&
         attrs.after[1] == 0;
}

// y = x padded or cropped in H and W (negative amounts crop), both plain or both nChw<block>c
// (channels padded to `block`, those lanes copied as they are). Each (image, channel block)
// plane is written once.
void pad_spatial_rows(const float* x, float* y, int64_t planes, const Shape& x_shape,
                      const Shape& y_shape, int64_t block, const PadAttrs& attrs, float value) {
  const int64_t in_h = x_shape[2], in_w = x_shape[3], out_h = y_shape[2], out_w = y_shape[3];
  const int64_t top = attrs.before[2], left = attrs.before[3];
  // Output columns [col_begin, col_begin + copied) come from x's, from column first_in_col.
  const int64_t col_begin = std::max<int64_t>(0, left), first_in_col = std::max<int64_t>(0, -left);
  const int64_t copied = std::max<int64_t>(0, std::min(out_w, left + in_w) - col_begin);
  auto fill_span = [&](float* p, int64_t columns) { std::fill(p, p + columns * block, value); };
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) {
    const float* x_plane = x + plane * in_h * in_w * block;
    float* y_plane = y + plane * out_h * out_w * block;
    for (int64_t oh = 0; oh < out_h; ++oh) {
      float* row = y_plane + oh * out_w * block;
      const int64_t ih = oh - top;
      if (ih < 0 || ih >= in_h || copied == 0) {
        fill_span(row, out_w);
        continue;
      }
      fill_span(row, col_begin);
      std::memcpy(row + col_begin * block, x_plane + (ih * in_w + first_in_col) * block,
                  copied * block * sizeof(float));
      fill_span(row + (col_begin + copied) * block, out_w - col_begin - copied);
    }
  }
}

// y = x placed at offset `before` inside a tensor filled with `value`; negative amounts crop.
// y has x's blocked layout when that layout survives (see the file comment), else is plain.
// Overwrites y.
Tensor constant_pad_fwd_onednn(const Tensor& x, const PadAttrs& attrs) {
  int64_t rank = x.dim();
  const Shape out_shape = constant_pad_output_shape(x.shape(), attrs);
  if (x.dtype() != DType::kFloat32 || rank == 0 || x.numel() == 0 || out_shape.numel() == 0) {
    return run_reference<ConstantPadFwd>(x, attrs);
  }
  return translate_errors("pad", [&] {
    memory::dims out_dims = to_dims(out_shape);
    memory::desc out_desc = blocked_output_desc(x, out_dims, attrs);
    const Tensor source = out_desc.is_zero() ? x.to_plain() : x;
    Buffer src = view(source);
    if (out_desc.is_zero()) out_desc = plain_desc(out_shape, x.dtype());
    Tensor y = empty_with_desc(out_shape, x.dtype(), out_desc);
    const int64_t block = channel_block(y);
    if (pads_spatial_dims_only(rank, attrs) && block >= 1 && channel_block(source) == block) {
      const int64_t planes = out_shape[0] * ((out_shape[1] + block - 1) / block);
      pad_spatial_rows(static_cast<const float*>(source.raw_data()),
                       static_cast<float*>(y.mutable_raw_data()), planes, x.shape(), out_shape,
                       block, attrs, static_cast<float>(attrs.value));
      return y;
    }
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
