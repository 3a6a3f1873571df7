// bitgrad tensors as oneDNN memory. A tensor is either plain (row-major) or carries an
// OnednnLayout: the dnnl::memory::desc of the blocked layout a primitive chose for it (such as
// nChw8c, "aBcd8b"). Kernels view either kind as a dnnl::memory without copying, reorder only
// where a primitive wants another layout, and allocate outputs in the layout the primitive chose.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "core/layout.h"
#include "core/tensor.h"

namespace bitgrad::onednn {

class OnednnLayout final : public OpaqueLayout {
 public:
  explicit OnednnLayout(dnnl::memory::desc desc) : desc_(std::move(desc)) {}
  const dnnl::memory::desc& desc() const { return desc_; }

  std::string name() const override;  // "onednn:aBcd8b"
  size_t nbytes() const override { return desc_.get_size(); }
  void to_plain(const void* src, void* dst) const override;
  bool same_as(const OpaqueLayout& other) const override;

 private:
  dnnl::memory::desc desc_;
};

dnnl::memory::dims to_dims(const Shape& shape);
// Only float32 has fast oneDNN kernels here; other dtypes throw (kernels forward them to ref).
dnnl::memory::data_type to_data_type(DType dtype);
// The row-major desc of `shape` (a 0-d tensor is described as one element).
dnnl::memory::desc plain_desc(const Shape& shape, DType dtype);
dnnl::memory::desc plain_desc(const dnnl::memory::dims& dims, dnnl::memory::data_type type);

// The float32 desc of `shape` in the layout of `tag` (aBcd8b: nChw8c, acdb: NHWC).
dnnl::memory::desc desc_with_tag(const Shape& shape, dnnl::memory::format_tag tag);

// The desc of t's physical layout: its OnednnLayout's, or the row-major one.
dnnl::memory::desc desc_of(const Tensor& t);
// Whether t carries an OnednnLayout (another backend's opaque layout counts as false).
bool has_onednn_layout(const Tensor& t);
// Whether a blocked dim of `desc` is padded (nChw8c with C not a multiple of 8): such layouts
// hold zeros past the logical end, which some primitives only handle with reference code.
bool has_padding(const dnnl::memory::desc& desc);

// The format tag whose layout equals `desc` for its dims, or format_tag::undef if none does.
dnnl::memory::format_tag format_tag_of(const dnnl::memory::desc& desc);

// For hand-written kernels that handle channel-blocked activations themselves: the channel block
// k of a 4-d tensor stored as nChw<k>c ("aBcd<k>b": element (n, c, h, w) at
// ((n * ceil(C / k) + c / k) * H * W + h * W + w) * k + c % k, padding channels zero), 1 for a
// plain tensor, 0 for any other layout.
int64_t channel_block(const Tensor& t);
// The same for a 4-d desc: k for nChw<k>c, 1 for row-major, 0 for any other layout.
int64_t channel_block_of(const dnnl::memory::desc& desc);
// The other way round: the float32 desc of a 4-d `shape` stored as nChw<block>c, for block 4, 8
// or 16 (the blocks channel_block names). Throws for any other block.
dnnl::memory::desc desc_with_channel_block(const Shape& shape, int64_t block);
// An uninitialised tensor with t's shape, dtype and layout (plain or oneDNN).
Tensor empty_like_layout(const Tensor& t);
// t's values in the layout of `like` (same shape): t itself when the layouts already agree,
// else a reordered copy. For kernels that need two operands (dy and x) in one layout.
Tensor to_layout_of(const Tensor& t, const Tensor& like);

// A dnnl::memory over a tensor's bytes, with the tensor that owns them kept alongside.
struct Buffer {
  Tensor owner;
  dnnl::memory memory;
  dnnl::memory::desc desc() const { return memory.get_desc(); }
};
// Views t in its own layout, or as `desc` (which must fit t's bytes, e.g. OIHW weights as the
// 5-d grouped desc). No copy; the caller must not write through a view of an input.
Buffer view(const Tensor& t);
Buffer view(const Tensor& t, const dnnl::memory::desc& desc);
// `source` in layout `wanted`: `source` itself when the layouts already agree, else a reordered
// copy in a temporary buffer.
Buffer in_layout(const Buffer& source, const dnnl::memory::desc& wanted);

// Uninitialised memory of layout `desc` in a temporary buffer.
Buffer allocate(const dnnl::memory::desc& desc);

// A new tensor of logical `shape` stored as `desc`: plain when desc is row-major, otherwise
// with an OnednnLayout. The bytes come from bitgrad's caching allocator.
Tensor empty_with_desc(const Shape& shape, DType dtype, const dnnl::memory::desc& desc);
// Copies between two memories of the same logical dims (layouts and data types may differ), via
// a cached reorder primitive.
void reorder(const dnnl::memory& source, const dnnl::memory& destination);
// The same, adding source to what destination holds instead of overwriting it.
void reorder_add(const dnnl::memory& source, const dnnl::memory& destination);

}  // namespace bitgrad::onednn
