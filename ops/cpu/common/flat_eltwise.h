// oneDNN eltwise over a tensor's whole buffer, as one flat float array: exact for dense layouts,
// and it keeps the jit kernels for blocked layouts with padded channels (nChw8c with C % 8 != 0),
// where oneDNN's eltwise over the 4-d desc picks "ref:any". Run flat, an op writes op(0) into the
// padding, which must stay zero (a conv multiplies it by zero weights): so an op with op(0) != 0
// takes such a tensor in plain layout instead.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "ops/cpu/common/onednn_context.h"
#include "ops/cpu/common/onednn_layout.h"

namespace bitgrad::onednn {

// The whole buffer of `desc` as one 1-d float array.
dnnl::memory::desc flat_desc(const dnnl::memory::desc& desc);
dnnl::memory flat(const Buffer& buffer);

// The cached eltwise forward primitive of `alg` over `desc` (a flat one).
CachedPrimitive<dnnl::eltwise_forward::primitive_desc> eltwise_primitive(
    const char* op, dnnl::prop_kind prop, dnnl::algorithm alg, const dnnl::memory::desc& desc,
    float alpha, float beta);

// The cached eltwise backward primitive of `alg` over `desc` (a flat one), hinted by the forward
// one; `op` names both in the cache.
CachedPrimitive<dnnl::eltwise_backward::primitive_desc> eltwise_backward_primitive(
    const char* op, dnnl::algorithm alg, const dnnl::memory::desc& desc);

// The layout two same-shape operands are brought to: the first oneDNN-blocked one, else plain.
dnnl::memory::desc common_desc(const Tensor& a, const Tensor& b);

}  // namespace bitgrad::onednn
