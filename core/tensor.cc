#include "core/tensor.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

namespace bitgrad {
namespace {

std::shared_ptr<TensorImpl> make_impl(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) BG_CHECK(d >= 0, "tensor shape ", shape, " has a negative extent");
  int64_t bytes = 0;
  BG_CHECK(!__builtin_mul_overflow(shape.numel(), dtype_size(dtype), &bytes), "tensor shape ",
           shape, " of ", dtype_name(dtype), " needs more than 2^63 bytes");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(bytes, device);
  impl->shape = shape;
  impl->dtype = dtype;
  return impl;
}

double load_as_double(const void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::kFloat32: return static_cast<const float*>(data)[i];
    case DType::kFloat64: return static_cast<const double*>(data)[i];
    case DType::kInt64: return static_cast<double>(static_cast<const int64_t*>(data)[i]);
    case DType::kUInt8: return static_cast<const uint8_t*>(data)[i];
    case DType::kBFloat16: return static_cast<float>(static_cast<const BFloat16*>(data)[i]);
    case DType::kFloat16: return static_cast<float>(static_cast<const Float16*>(data)[i]);
  }
  BG_ASSERT(false, "unknown dtype");
}

// `value` as the integer type T: truncated toward zero, as a C++ cast, but out-of-range values
// saturate and NaN gives 0, where the cast is undefined behaviour (numpy and PyTorch wrap).
template <typename T>
T saturating_cast(double value) {
  using Limits = std::numeric_limits<T>;
  if (std::isnan(value)) return T(0);
  if (value <= static_cast<double>(Limits::min())) return Limits::min();
  if (value >= static_cast<double>(Limits::max())) return Limits::max();
  return static_cast<T>(value);
}

void store_from_double(void* data, DType dtype, int64_t i, double value) {
  switch (dtype) {
    case DType::kFloat32: static_cast<float*>(data)[i] = static_cast<float>(value); return;
    case DType::kFloat64: static_cast<double*>(data)[i] = value; return;
    case DType::kInt64: static_cast<int64_t*>(data)[i] = saturating_cast<int64_t>(value); return;
    case DType::kUInt8: static_cast<uint8_t*>(data)[i] = saturating_cast<uint8_t>(value); return;
    case DType::kBFloat16:
      static_cast<BFloat16*>(data)[i] = BFloat16(static_cast<float>(value));
      return;
    case DType::kFloat16:
      static_cast<Float16*>(data)[i] = Float16(static_cast<float>(value));
      return;
  }
  BG_ASSERT(false, "unknown dtype");
}

// Element conversion on the host; int64 -> int64 etc. never reaches here (same dtype is a copy).
void convert_on_host(const void* src, DType src_dtype, void* dst, DType dst_dtype, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    store_from_double(dst, dst_dtype, i, load_as_double(src, src_dtype, i));
  }
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) {
  if (nbytes == 0) return;
  // The non-CPU side's runtime knows how to reach the host.
  Device owner = dst_device.is_cpu() ? src_device : dst_device;
  device_runtime(owner.type).copy(dst, dst_device, src, src_device, nbytes);
}

}  // namespace

int64_t Tensor::size(int64_t d) const {
  int64_t rank = dim();
  BG_CHECK(d >= -rank && d < rank, "dimension ", d, " is out of range for a tensor of shape ",
           shape());
  return shape()[d];
}

size_t Tensor::nbytes() const {
  const TensorImpl& impl = checked();
  return impl.layout ? impl.layout->nbytes() : numel() * dtype_size(impl.dtype);
}

const void* Tensor::raw_data() const {
  const TensorImpl& impl = checked();
  return static_cast<const char*>(impl.storage->data()) + impl.byte_offset;
}

void* Tensor::mutable_raw_data() {
  const TensorImpl& impl = checked();
  return static_cast<char*>(impl.storage->data()) + impl.byte_offset;
}

void Tensor::check_element_access(DType requested) const {
  BG_CHECK(dtype() == requested, "tensor of shape ", shape(), " and dtype ",
           dtype_name(dtype()), " accessed as ", dtype_name(requested));
  BG_CHECK(is_plain(), "element access to a tensor in the opaque layout ",
           opaque_layout()->name(), "; call .to_plain() first");
}

int64_t Tensor::flat_index(std::initializer_list<int64_t> index) const {
  BG_CHECK(static_cast<int64_t>(index.size()) == dim(), "Tensor::at: ", index.size(),
           " indices for a tensor of shape ", shape());
  int64_t flat = 0;
  int64_t d = 0;
  for (int64_t i : index) {
    BG_CHECK(i >= 0 && i < shape()[d], "Tensor::at: index ", i, " is out of range for dimension ",
             d, " of shape ", shape());
    flat = flat * shape()[d] + i;
    ++d;
  }
  return flat;
}

Tensor Tensor::to_plain() const {
  if (is_plain()) return *this;
  Tensor plain = empty(shape(), dtype(), device());
  opaque_layout()->to_plain(raw_data(), plain.mutable_raw_data());
  return plain;
}

Tensor Tensor::view(const Shape& new_shape) const {
  BG_CHECK(new_shape.numel() == numel(), "view: cannot view a tensor of shape ", shape(),
           " (", numel(), " elements) as shape ", new_shape, " (", new_shape.numel(), " elements)");
  Tensor source = to_plain();
  auto impl = std::make_shared<TensorImpl>(*source.impl_);
  impl->shape = new_shape;
  impl->autograd = nullptr;
  return Tensor(std::move(impl));
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>(checked());
  impl->autograd = nullptr;
  return Tensor(std::move(impl));
}

Tensor Tensor::clone() const {
  Tensor source = to_plain();
  Tensor copy = empty(shape(), dtype(), device());
  copy_bytes(copy.mutable_raw_data(), device(), source.raw_data(), device(), source.nbytes());
  return copy;
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor source = to_plain();
  Tensor moved = empty(shape(), dtype(), target);
  copy_bytes(moved.mutable_raw_data(), target, source.raw_data(), device(), source.nbytes());
  return moved;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor host = to(Device::cpu()).to_plain();
  Tensor converted = empty(shape(), target, Device::cpu());
  convert_on_host(host.raw_data(), dtype(), converted.mutable_raw_data(), target, numel());
  return converted.to(device());
}

Tensor& Tensor::copy_(const Tensor& source) {
  BG_CHECK(source.shape() == shape(), "copy_: source shape ", source.shape(),
           " differs from destination shape ", shape());
  BG_CHECK(is_plain(), "copy_: the destination is in an opaque layout");
  Tensor converted = source.to(dtype()).to_plain();
  bump_version();  // first: a write that fails half way has still changed the memory
  copy_bytes(mutable_raw_data(), device(), converted.raw_data(), converted.device(), nbytes());
  return *this;
}

void Tensor::set_data(const Tensor& source) {
  BG_CHECK(defined() && source.defined(), "set_data: both tensors must be defined");
  BG_CHECK(is_leaf(), "set_data: only leaf tensors can have their data replaced");
  TensorImpl& impl = *impl_;
  impl.storage = source.impl_->storage;
  impl.byte_offset = source.impl_->byte_offset;
  impl.shape = source.impl_->shape;
  impl.dtype = source.impl_->dtype;
  impl.layout = source.impl_->layout;
}

namespace {

// Fills a plain tensor without counting the write: for the factories, whose tensors nobody has
// seen yet, and for fill_, which counts it itself.
void fill_uncounted(Tensor& t, double value) {
  if (value == 0.0 && !std::signbit(value)) {
    device_runtime(t.device().type).fill_zero(t.mutable_raw_data(), t.nbytes(), t.device().index);
    return;
  }
  Tensor host = empty(t.shape(), t.dtype(), Device::cpu());
  for (int64_t i = 0; i < t.numel(); ++i) {
    store_from_double(host.mutable_raw_data(), t.dtype(), i, value);
  }
  copy_bytes(t.mutable_raw_data(), t.device(), host.raw_data(), Device::cpu(), t.nbytes());
}

}  // namespace

Tensor& Tensor::fill_(double value) {
  BG_CHECK(is_plain(), "fill_: the tensor is in an opaque layout");
  bump_version();  // first, as in copy_
  fill_uncounted(*this, value);
  return *this;
}

Tensor& Tensor::zero_() {
  BG_CHECK(is_plain(), "zero_: the tensor is in an opaque layout");
  return fill_(0.0);
}

AutogradMeta& Tensor::autograd_meta() {
  TensorImpl& impl = const_cast<TensorImpl&>(checked());
  if (!impl.autograd) {
    impl.autograd = std::make_shared<AutogradMeta>();
    impl.autograd->tensor = impl_;
  }
  return *impl.autograd;
}

bool Tensor::requires_grad() const {
  const auto& meta = checked().autograd;
  return meta != nullptr && meta->requires_grad;
}

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  BG_CHECK(!requires_grad || is_floating(dtype()), "requires_grad: only floating tensors can ",
           "require gradients, this one is ", dtype_name(dtype()));
  BG_CHECK(requires_grad || is_leaf(), "requires_grad(false) on a non-leaf tensor; use detach()");
  autograd_meta().requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const {
  const auto& meta = checked().autograd;
  return meta ? meta->grad : Tensor();
}

void Tensor::set_grad(const Tensor& grad) {
  BG_CHECK(!grad.defined() || grad.shape() == shape(), "set_grad: gradient shape ",
           grad.defined() ? grad.shape().str() : "", " differs from tensor shape ", shape());
  BG_CHECK(!grad.defined() || grad.dtype() == dtype(), "set_grad: a ", dtype_name(grad.dtype()),
           " gradient for a ", dtype_name(dtype()), " tensor of shape ", shape());
  BG_CHECK(!grad.defined() || grad.device() == device(), "set_grad: a gradient on ",
           grad.device(), " for a tensor of shape ", shape(), " on ", device());
  autograd_meta().grad = grad;
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<Node> kNone;
  const auto& meta = checked().autograd;
  return meta ? meta->grad_fn : kNone;
}

namespace {
BackwardEngine& backward_engine() {
  static BackwardEngine engine = nullptr;
  return engine;
}
}  // namespace

void register_backward_engine(BackwardEngine engine) { backward_engine() = engine; }

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  BG_CHECK(backward_engine() != nullptr, "Tensor::backward: this program has no backward ",
           "engine; add //autograd:engine to its deps");
  backward_engine()(*this, gradient, retain_graph);
}

// ----------------------------------------------------------------------------------------------
// Conversion to host values.

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = to(Device::cpu()).to_plain().to(dtype_of<T>());
  const T* values = host.data<T>();
  return std::vector<T>(values, values + numel());
}

template <typename T>
T Tensor::item() const {
  BG_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", shape());
  return to_vector<T>()[0];
}

template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;

// ----------------------------------------------------------------------------------------------
// Factories.

Tensor empty(const Shape& shape, DType dtype, Device device) {
  return Tensor(make_impl(shape, dtype, device));
}

Tensor zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}

Tensor ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  fill_uncounted(t, value);
  return t;
}

Tensor empty_like(const Tensor& like) { return empty(like.shape(), like.dtype(), like.device()); }
Tensor zeros_like(const Tensor& like) { return zeros(like.shape(), like.dtype(), like.device()); }
Tensor ones_like(const Tensor& like) { return ones(like.shape(), like.dtype(), like.device()); }

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  BG_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "from_vector: ", values.size(),
           " values do not fill shape ", shape, " (", shape.numel(), " elements)");
  Tensor host = empty(shape, dtype_of<T>(), Device::cpu());
  std::memcpy(host.mutable_raw_data(), values.data(), values.size() * sizeof(T));
  return host.to(device);
}

template Tensor from_vector<float>(const std::vector<float>&, const Shape&, Device);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, Device);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, Device);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, Device);

Tensor scalar_tensor(double value, DType dtype, Device device) {
  return full(Shape{}, value, dtype, device);
}

// ----------------------------------------------------------------------------------------------
// Printing, in PyTorch's style: tensor([[1.0000, 2.0000], ...], dtype=float64).

namespace {

constexpr int64_t kSummariseAbove = 1000;  // elements; larger tensors show 3 edge items per dim
constexpr int64_t kEdgeItems = 3;

void print_element(std::string& out, const std::vector<double>& values, int64_t i, DType dtype) {
  char buffer[32];
  double v = values[i];
  if (!is_floating(dtype)) {
    std::snprintf(buffer, sizeof buffer, "%lld", static_cast<long long>(v));
  } else if (v != 0 && (std::fabs(v) >= 1e5 || std::fabs(v) < 1e-4)) {
    std::snprintf(buffer, sizeof buffer, "%.4e", v);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.4f", v);
  }
  out += buffer;
}

void print_dim(std::string& out, const std::vector<double>& values, const Shape& shape,
               DType dtype, int64_t d, int64_t offset, bool summarise, int indent) {
  if (d == shape.rank()) {
    print_element(out, values, offset, dtype);
    return;
  }
  int64_t extent = shape[d];
  int64_t stride = 1;
  for (int64_t k = d + 1; k < shape.rank(); ++k) stride *= shape[k];
  out += "[";
  for (int64_t i = 0; i < extent; ++i) {
    if (summarise && extent > 2 * kEdgeItems && i == kEdgeItems) {
      out += d + 1 == shape.rank() ? "..., " : "...,\n" + std::string(indent + 1, ' ');
      i = extent - kEdgeItems;
    }
    print_dim(out, values, shape, dtype, d + 1, offset + i * stride, summarise, indent + 1);
    if (i + 1 < extent) {
      out += d + 1 == shape.rank() ? ", " : ",\n" + std::string(indent + 1, ' ');
    }
  }
  out += "]";
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::vector<double> values = to_vector<double>();
  std::string out = "tensor(";
  print_dim(out, values, shape(), dtype(), 0, 0, numel() > kSummariseAbove, 7);
  if (dim() > 0 && numel() > kSummariseAbove) out += ", shape=" + shape().str();
  if (dtype() != DType::kFloat32) out += std::string(", dtype=") + dtype_name(dtype());
  if (!device().is_cpu()) out += ", device=" + device().str();
  if (!is_plain()) out += ", layout=" + opaque_layout()->name();
  if (requires_grad()) out += ", requires_grad=True";
  return out + ")";
}

std::ostream& operator<<(std::ostream& out, const Tensor& tensor) { return out << tensor.str(); }

}  // namespace bitgrad
