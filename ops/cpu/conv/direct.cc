#include "ops/cpu/conv/direct.h"

#include "ops/cpu/common/onednn_layout.h"

namespace bitgrad::onednn {

using dnnl::memory;
using Fwd = dnnl::convolution_forward;
using BwdData = dnnl::convolution_backward_data;
using BwdWeights = dnnl::convolution_backward_weights;

namespace {

// make(algorithm) with oneDNN's Winograd convolution where `winograd` asks for it and oneDNN
// implements it for the shape on this CPU (AVX-512 only; 3x3, stride 1, no dilation), else with
// its direct convolution.
template <typename MakePd>
auto with_algorithm(bool winograd, const MakePd& make) {
  if (winograd) {
    try {
      return make(dnnl::algorithm::convolution_winograd);
    } catch (const dnnl::error& error) {
      if (error.status != dnnl_unimplemented) throw;
    }
  }
  return make(dnnl::algorithm::convolution_direct);
}

CacheKey conv_key(const char* op, const ConvGeometry& g, bool winograd) {
  CacheKey key(op);
  g.add_to(key);
  key.add(static_cast<int64_t>(winograd));
  return key;
}

// Backward-data and backward-weights: the same descriptor arguments, and the forward primitive
// as the hint they need to be created.
template <typename Bwd>
CachedPrimitive<typename Bwd::primitive_desc> backward_primitive(const char* op,
                                                                 const ConvGeometry& g,
                                                                 bool winograd) {
  return cached_primitive<typename Bwd::primitive_desc>(conv_key(op, g, winograd), [&] {
    auto hint = forward_primitive(g, /*with_bias=*/false, winograd);
    return with_algorithm(winograd, [&](dnnl::algorithm algorithm) {
      typename Bwd::desc desc(algorithm, g.any(g.src), g.any(g.weights), g.any(g.dst), g.strides,
                              g.dilates, g.padding, g.padding);
      return typename Bwd::primitive_desc(desc, default_attr(), engine(), hint.pd);
    });
  });
}

}  // namespace

ConvGeometry conv_geometry(const Shape& x, const Shape& w, const Conv2dAttrs& attrs) {
  Shape y = conv2d_output_shape(x, w, attrs);
  ConvGeometry g;
  g.src = to_dims(x);
  g.dst = to_dims(y);
  g.weights = to_dims(w);
  if (attrs.groups > 1) {
    g.weights = {attrs.groups, w[0] / attrs.groups, w[1], w[2], w[3]};
  }
  g.strides = {attrs.stride[0], attrs.stride[1]};
  g.dilates = {attrs.dilation[0] - 1, attrs.dilation[1] - 1};
  g.padding = {attrs.padding[0], attrs.padding[1]};
  return g;
}

Buffer plain_view(const Tensor& t, const memory::dims& dims) {
  return view(t.to_plain(), plain_desc(dims, memory::data_type::f32));
}

CachedPrimitive<Fwd::primitive_desc> forward_primitive(const ConvGeometry& g, bool with_bias,
                                                       bool winograd) {
  CacheKey key = conv_key("conv2d", g, winograd);
  key.add(static_cast<int64_t>(with_bias));
  return cached_primitive<Fwd::primitive_desc>(key, [&] {
    memory::desc bias_desc =
        with_bias ? memory::desc({g.dst[1]}, memory::data_type::f32, memory::format_tag::a)
                  : memory::desc();
    return with_algorithm(winograd, [&](dnnl::algorithm algorithm) {
      Fwd::desc desc(dnnl::prop_kind::forward_training, algorithm, g.any(g.src),
                     g.any(g.weights), bias_desc, g.any(g.dst), g.strides, g.dilates, g.padding,
                     g.padding);
      return Fwd::primitive_desc(desc, default_attr(), engine());
    });
  });
}

CachedPrimitive<Fwd::primitive_desc> forward_add_primitive(const ConvGeometry& g) {
  CacheKey key("conv2d_add");
  g.add_to(key);
  return cached_primitive<Fwd::primitive_desc>(key, [&] {
    // The plain forward's layouts, so that dst is the layout the addend already has.
    auto plain_forward = forward_primitive(g, /*with_bias=*/false);
    Fwd::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                   plain_forward.pd.src_desc(), plain_forward.pd.weights_desc(), memory::desc(),
                   plain_forward.pd.dst_desc(), g.strides, g.dilates, g.padding, g.padding);
    dnnl::post_ops sum;
    sum.append_sum(1.0f);
    dnnl::primitive_attr attr = default_attr();
    attr.set_post_ops(sum);
    return Fwd::primitive_desc(desc, attr, engine());
  });
}

CachedPrimitive<BwdData::primitive_desc> backward_data_primitive(const ConvGeometry& g,
                                                                 bool winograd) {
  return backward_primitive<BwdData>("conv2d_bwd_data", g, winograd);
}

CachedPrimitive<BwdWeights::primitive_desc> backward_weights_primitive(const ConvGeometry& g,
                                                                       bool winograd) {
  return backward_primitive<BwdWeights>("conv2d_bwd_weight", g, winograd);
}

int64_t activation_channel_block() {
  ConvGeometry g = conv_geometry({1, 64, 8, 8}, {64, 64, 3, 3}, {{1, 1}, {1, 1}});
  return channel_block_of(forward_primitive(g, false).pd.dst_desc());
}

}  // namespace bitgrad::onednn
