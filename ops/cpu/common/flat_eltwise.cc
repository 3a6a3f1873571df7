#include "ops/cpu/common/flat_eltwise.h"

namespace bitgrad::onednn {

using dnnl::memory;

memory::desc flat_desc(const memory::desc& desc) {
  auto n = static_cast<memory::dim>(desc.get_size() / sizeof(float));
  return memory::desc({n}, memory::data_type::f32, memory::format_tag::a);
}

memory flat(const Buffer& buffer) {
  return memory(flat_desc(buffer.desc()), engine(), buffer.memory.get_data_handle());
}

CachedPrimitive<dnnl::eltwise_forward::primitive_desc> eltwise_primitive(
    const char* op, dnnl::prop_kind prop, dnnl::algorithm alg, const memory::desc& desc,
    float alpha, float beta) {
  CacheKey key(op);
  key.add(static_cast<int64_t>(prop)).add(static_cast<int64_t>(alg)).add(desc);
  key.add(static_cast<double>(alpha)).add(static_cast<double>(beta));
  return cached_primitive<dnnl::eltwise_forward::primitive_desc>(key, [&] {
    dnnl::eltwise_forward::desc d(prop, alg, desc, alpha, beta);
    return dnnl::eltwise_forward::primitive_desc(d, default_attr(), engine());
  });
}

CachedPrimitive<dnnl::eltwise_backward::primitive_desc> eltwise_backward_primitive(
    const char* op, dnnl::algorithm alg, const memory::desc& desc) {
  auto hint = eltwise_primitive(op, dnnl::prop_kind::forward_training, alg, desc, 0.f, 0.f);
  CacheKey key(op);
  key.add(static_cast<int64_t>(dnnl::prop_kind::backward_data)).add(static_cast<int64_t>(alg));
  key.add(desc);
  return cached_primitive<dnnl::eltwise_backward::primitive_desc>(key, [&] {
    dnnl::eltwise_backward::desc d(alg, desc, desc, 0.f, 0.f);
    return dnnl::eltwise_backward::primitive_desc(d, default_attr(), engine(), hint.pd);
  });
}

memory::desc common_desc(const Tensor& a, const Tensor& b) {
  if (has_onednn_layout(a)) return desc_of(a);
  if (has_onednn_layout(b)) return desc_of(b);
  return plain_desc(a.shape(), a.dtype());
}

}  // namespace bitgrad::onednn
