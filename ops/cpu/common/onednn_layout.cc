#include "ops/cpu/common/onednn_layout.h"

#include <map>
#include <mutex>

#include <oneapi/dnnl/dnnl_debug.h>

#include "ops/cpu/common/onednn_context.h"

namespace bitgrad::onednn {
namespace {

using dnnl::memory;

memory::format_tag search_format_tag(const memory::desc& desc) {
  for (int tag = dnnl_a; tag < dnnl_format_tag_last; ++tag) {
    dnnl_memory_desc_t candidate;
    dnnl_status_t status = dnnl_memory_desc_init_by_tag(
        &candidate, desc.data.ndims, desc.data.dims, desc.data.data_type,
        static_cast<dnnl_format_tag_t>(tag));
    if (status == dnnl_success && dnnl_memory_desc_equal(&candidate, &desc.data)) {
      return static_cast<memory::format_tag>(tag);
    }
  }
  return memory::format_tag::undef;
}

}  // namespace

std::string OnednnLayout::name() const {
  memory::format_tag tag = format_tag_of(desc_);
  if (tag == memory::format_tag::undef) return "onednn:blocked";
  return std::string("onednn:") + dnnl_fmt_tag2str(static_cast<dnnl_format_tag_t>(tag));
}

void OnednnLayout::to_plain(const void* src, void* dst) const {
  translate_errors("to_plain", [&] {
    memory source(desc_, engine(), const_cast<void*>(src));
    memory destination(plain_desc(desc_.dims(), desc_.data_type()), engine(), dst);
    reorder(source, destination);
  });
}

bool OnednnLayout::same_as(const OpaqueLayout& other) const {
  auto* onednn = dynamic_cast<const OnednnLayout*>(&other);
  return onednn != nullptr && onednn->desc_ == desc_;
}

memory::dims to_dims(const Shape& shape) {
  if (shape.rank() == 0) return {1};
  return memory::dims(shape.begin(), shape.end());
}

memory::data_type to_data_type(DType dtype) {
  BG_CHECK(dtype == DType::kFloat32, "oneDNN kernels take float32 tensors, got ",
           dtype_name(dtype));
  return memory::data_type::f32;
}

memory::desc plain_desc(const memory::dims& dims, memory::data_type type) {
  memory::dims strides(dims.size(), 1);
  for (int d = static_cast<int>(dims.size()) - 2; d >= 0; --d) {
    strides[d] = strides[d + 1] * std::max<memory::dim>(dims[d + 1], 1);
  }
  return memory::desc(dims, type, strides);
}

memory::desc desc_with_tag(const Shape& shape, memory::format_tag tag) {
  return memory::desc(to_dims(shape), memory::data_type::f32, tag);
}

memory::desc plain_desc(const Shape& shape, DType dtype) {
  return plain_desc(to_dims(shape), to_data_type(dtype));
}

bool has_onednn_layout(const Tensor& t) {
  return !t.is_plain() && dynamic_cast<const OnednnLayout*>(t.opaque_layout().get()) != nullptr;
}

memory::desc desc_of(const Tensor& t) {
  if (has_onednn_layout(t)) return static_cast<const OnednnLayout&>(*t.opaque_layout()).desc();
  BG_CHECK(t.is_plain(), "oneDNN kernels cannot read the opaque layout ",
           t.opaque_layout()->name());
  return plain_desc(t.shape(), t.dtype());
}

bool has_padding(const memory::desc& desc) {
  for (int d = 0; d < desc.data.ndims; ++d) {
    if (desc.data.padded_dims[d] != desc.data.dims[d]) return true;
  }
  return false;
}

// Memoized: the search tries every tag oneDNN knows.
memory::format_tag format_tag_of(const memory::desc& desc) {
  static std::mutex mutex;
  static std::map<std::string, memory::format_tag> found;
  CacheKey key("format_tag_of");
  key.add(desc);
  std::lock_guard<std::mutex> lock(mutex);
  auto it = found.find(key.bytes());
  if (it != found.end()) return it->second;
  return found[key.bytes()] = search_format_tag(desc);
}

int64_t channel_block(const Tensor& t) {
  if (t.is_plain()) return 1;
  if (!has_onednn_layout(t) || t.dim() != 4) return 0;
  return channel_block_of(desc_of(t));
}

int64_t channel_block_of(const memory::desc& desc) {
  if (desc.dims().size() != 4) return 0;
  switch (format_tag_of(desc)) {
    case memory::format_tag::abcd: return 1;
    case memory::format_tag::aBcd4b: return 4;
    case memory::format_tag::aBcd8b: return 8;
    case memory::format_tag::aBcd16b: return 16;
    default: return 0;
  }
}

memory::desc desc_with_channel_block(const Shape& shape, int64_t block) {
  switch (block) {
    case 4: return desc_with_tag(shape, memory::format_tag::aBcd4b);
    case 8: return desc_with_tag(shape, memory::format_tag::aBcd8b);
    case 16: return desc_with_tag(shape, memory::format_tag::aBcd16b);
    default: BG_CHECK(false, "desc_with_channel_block: no nChw<k>c layout for a block of ", block);
  }
  return memory::desc();
}

Tensor empty_like_layout(const Tensor& t) {
  if (!has_onednn_layout(t)) return empty(t.shape(), t.dtype(), t.device());
  return empty_with_desc(t.shape(), t.dtype(), desc_of(t));
}

Tensor to_layout_of(const Tensor& t, const Tensor& like) {
  BG_CHECK(t.shape() == like.shape(), "to_layout_of: shapes ", t.shape(), " and ", like.shape(),
           " differ");
  if (!has_onednn_layout(like)) return t.to_plain();
  Buffer source = view(t);
  if (source.desc() == desc_of(like)) return t;
  Tensor result = empty_like_layout(like);
  reorder(source.memory, view(result).memory);
  return result;
}

Buffer view(const Tensor& t) {
  Tensor source = t.is_plain() || has_onednn_layout(t) ? t : t.to_plain();
  return view(source, desc_of(source));
}

Buffer view(const Tensor& t, const memory::desc& desc) {
  BG_CHECK(t.device().is_cpu(), "oneDNN kernels take CPU tensors, got one on ", t.device());
  BG_ASSERT(desc.get_size() <= t.nbytes(), "a ", desc.get_size(), "-byte view of a ",
            t.nbytes(), "-byte tensor");
  return Buffer{t, memory(desc, engine(), const_cast<void*>(t.raw_data()))};
}

Buffer allocate(const memory::desc& desc) {
  Tensor bytes = empty({static_cast<int64_t>(desc.get_size())}, DType::kUInt8);
  return Buffer{bytes, memory(desc, engine(), bytes.mutable_raw_data())};
}

Buffer in_layout(const Buffer& source, const memory::desc& wanted) {
  if (source.desc() == wanted) return source;
  Buffer result = allocate(wanted);
  reorder(source.memory, result.memory);
  return result;
}

Tensor empty_with_desc(const Shape& shape, DType dtype, const memory::desc& desc) {
  BG_ASSERT(desc.dims() == to_dims(shape) && desc.data_type() == to_data_type(dtype),
            "a oneDNN desc that does not describe shape ", shape);
  if (desc == plain_desc(shape, dtype)) return empty(shape, dtype);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(desc.get_size(), Device::cpu());
  impl->shape = shape;
  impl->dtype = dtype;
  impl->layout = std::make_shared<OnednnLayout>(desc);
  return Tensor(std::move(impl));
}

namespace {

void run_reorder(const memory& source, const memory& destination, bool add) {
  memory::desc from = source.get_desc(), to = destination.get_desc();
  CacheKey key(add ? "reorder_add" : "reorder");
  key.add(from).add(to);
  auto cached = cached_primitive<dnnl::reorder::primitive_desc>(key, [&] {
    dnnl::primitive_attr attr = default_attr();
    if (add) {
      dnnl::post_ops sum;
      sum.append_sum(1.0f);
      attr.set_post_ops(sum);
    }
    return dnnl::reorder::primitive_desc(engine(), from, engine(), to, attr);
  });
  execute(key.op(), cached, {{DNNL_ARG_FROM, source}, {DNNL_ARG_TO, destination}});
}

}  // namespace

void reorder(const memory& source, const memory& destination) {
  run_reorder(source, destination, /*add=*/false);
}

void reorder_add(const memory& source, const memory& destination) {
  run_reorder(source, destination, /*add=*/true);
}

}  // namespace bitgrad::onednn
