// The oneDNN convolution primitives the conv kernels share (conv/conv.cc, conv/dual.cc):
// a convolution's geometry in oneDNN's terms, and its forward, backward-data and
// backward-weights primitives, cached by geometry. Each runs oneDNN's direct convolution, or its
// Winograd convolution where the caller asks for it (`winograd`, from conv/algo.h's rule) and
// oneDNN has one for the shape on this CPU.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "core/tensor.h"
#include "ops/conv.h"
#include "ops/cpu/common/onednn_context.h"
#include "ops/cpu/common/onednn_layout.h"

namespace bitgrad::onednn {

// A Conv2dAttrs call in oneDNN's terms: grouped weights are 5-d (G, O/G, I/G, KH, KW), and
// dilation counts the gaps between taps (0 = dense) where bitgrad counts taps (1 = dense).
struct ConvGeometry {
  dnnl::memory::dims src, weights, dst, strides, dilates, padding;

  dnnl::memory::desc any(const dnnl::memory::dims& dims) const {
    return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, dnnl::memory::format_tag::any);
  }
  void add_to(CacheKey& key) const {
    key.add(src).add(weights).add(dst).add(strides).add(dilates).add(padding);
  }
  Shape dst_shape() const { return Shape(dst.begin(), dst.end()); }
};

ConvGeometry conv_geometry(const Shape& x, const Shape& w, const Conv2dAttrs& attrs);

// The plain OIHW weights (or bias) as oneDNN sees them (`dims`: the 5-d grouped weights of a
// ConvGeometry, say), converted to plain if they are not.
Buffer plain_view(const Tensor& t, const dnnl::memory::dims& dims);

// The forward primitive; without bias it is also the hint the backward primitives need.
CachedPrimitive<dnnl::convolution_forward::primitive_desc> forward_primitive(
    const ConvGeometry& g, bool with_bias, bool winograd = false);
// The forward primitive (no bias) that adds its result to what dst holds (a sum post-op; direct
// only: oneDNN's Winograd kernels take no sum).
CachedPrimitive<dnnl::convolution_forward::primitive_desc> forward_add_primitive(
    const ConvGeometry& g);
CachedPrimitive<dnnl::convolution_backward_data::primitive_desc> backward_data_primitive(
    const ConvGeometry& g, bool winograd = false);
CachedPrimitive<dnnl::convolution_backward_weights::primitive_desc> backward_weights_primitive(
    const ConvGeometry& g, bool winograd = false);

// The channel block k of nChw<k>c that oneDNN's convolutions choose for activations on this
// CPU (8 with AVX2, 16 with AVX-512), asked of a BiT-sized 3x3 conv primitive: tests and tools
// ask this instead of assuming a block.
int64_t activation_channel_block();

}  // namespace bitgrad::onednn
