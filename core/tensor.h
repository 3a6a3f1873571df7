// Tensor: a shared handle to an n-dimensional array on one device.
//
// Copying a Tensor copies the handle, not the data (like torch.Tensor). The data is always
// contiguous in its physical layout: row-major ("plain"), or a backend's opaque layout
// (core/layout.h). Views made by view() share storage with the original.
//
// Autograd state (requires_grad, grad, grad_fn) hangs off the tensor in AutogradMeta; the engine
// that uses it lives in autograd/.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/layout.h"
#include "core/shape.h"
#include "core/storage.h"

namespace bitgrad {

class Node;  // autograd/node.h
struct AutogradMeta;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  size_t byte_offset = 0;  // where this tensor starts inside storage (views)
  Shape shape;
  DType dtype = DType::kFloat32;
  std::shared_ptr<const OpaqueLayout> layout;  // null: plain row-major
  std::shared_ptr<AutogradMeta> autograd;      // null until autograd is used on this tensor
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor: "no tensor", e.g. an absent bias
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return checked().shape; }
  int64_t dim() const { return shape().rank(); }
  int64_t size(int64_t d) const;  // negative d counts from the back
  int64_t numel() const { return shape().numel(); }
  DType dtype() const { return checked().dtype; }
  Device device() const { return checked().storage->device(); }
  size_t itemsize() const { return dtype_size(dtype()); }
  size_t nbytes() const;  // bytes of the physical layout

  // Physical layout. Plain tensors are row-major; opaque ones belong to a backend.
  bool is_plain() const { return checked().layout == nullptr; }
  const std::shared_ptr<const OpaqueLayout>& opaque_layout() const { return checked().layout; }
  Tensor to_plain() const;  // returns *this when already plain

  // Raw element pointers, for kernels. Require a plain tensor of element type T.
  template <typename T>
  const T* data() const {
    check_element_access(dtype_of<T>());
    return static_cast<const T*>(raw_data());
  }
  template <typename T>
  T* mutable_data() {
    check_element_access(dtype_of<T>());
    return static_cast<T*>(mutable_raw_data());
  }
  const void* raw_data() const;
  void* mutable_raw_data();

  // Element access for tests and small tools: CPU, plain, matching dtype, bounds-checked.
  template <typename T>
  T& at(std::initializer_list<int64_t> index);
  template <typename T>
  T at(std::initializer_list<int64_t> index) const;
  // The only element of a one-element tensor, converted to T; works on any device.
  template <typename T>
  T item() const;
  // All elements in row-major order, converted to T; works on any device and layout.
  template <typename T>
  std::vector<T> to_vector() const;

  // A tensor sharing this one's memory with another shape (same numel). Not recorded by autograd:
  // use bitgrad::reshape() for that. Opaque tensors are converted to plain first.
  Tensor view(const Shape& shape) const;
  // A new handle to the same memory with no autograd history.
  Tensor detach() const;
  // A deep copy with no autograd history; bitgrad::clone() (ops/copy.h) is the recorded one.
  Tensor clone() const;
  // Copies to another device or converts to another dtype. Returns *this when nothing changes.
  // Not recorded by autograd: use bitgrad::to() (ops/copy.h) for that.
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;

  // Makes this tensor (and every handle to it) use `source`'s memory, shape, dtype and layout,
  // keeping its autograd identity (requires_grad, grad). How Module::to(device) moves
  // parameters without invalidating handles held by optimizers.
  void set_data(const Tensor& source);

  // In-place writes, for initialisation and optimizers (never recorded by autograd). Each one
  // bumps the memory's version, so that backward refuses to use a saved tensor they changed.
  Tensor& copy_(const Tensor& source);  // same shape; converts dtype and device
  Tensor& fill_(double value);
  Tensor& zero_();
  // The count of in-place writes to this tensor's memory, shared with its views (Storage).
  // Writes through mutable_data() or at() are not counted (like PyTorch's .data): code that
  // writes a tensor in place that way calls bump_version() itself, as Sgd::step does.
  uint64_t version() const { return checked().storage->version(); }
  void bump_version() { checked().storage->bump_version(); }

  // Autograd. Only floating tensors can require grad.
  bool requires_grad() const;
  Tensor& set_requires_grad(bool requires_grad = true);
  Tensor grad() const;  // undefined until backward() reaches this leaf
  void set_grad(const Tensor& grad);
  const std::shared_ptr<Node>& grad_fn() const;
  bool is_leaf() const { return grad_fn() == nullptr; }
  // Runs backpropagation from this tensor with the engine //autograd:engine registers
  // (register_backward_engine below). Scalar tensors need no gradient argument.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;

  std::string str() const;  // PyTorch-style printing, summarised for large tensors
  TensorImpl* impl() const { return impl_.get(); }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  // How many handles share this tensor, and how many tensors (views included) share its memory.
  long use_count() const { return impl_.use_count(); }
  long storage_use_count() const { return checked().storage.use_count(); }
  // Whether this handle is the only one to this tensor and to its memory, so that writing it in
  // place changes nothing anyone else can see.
  bool is_sole_owner() const { return use_count() == 1 && storage_use_count() == 1; }

  AutogradMeta& autograd_meta();  // created on first use; for autograd/ internals

 private:
  const TensorImpl& checked() const {
    BG_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
  }
  void check_element_access(DType requested) const;
  int64_t flat_index(std::initializer_list<int64_t> index) const;

  std::shared_ptr<TensorImpl> impl_;
};

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;                     // accumulated gradient, for leaves
  std::shared_ptr<Node> grad_fn;   // the op that produced this tensor; null for leaves
  // The tensor this belongs to, so that backward can check a leaf's gradient against the data
  // the leaf holds now: set_data (Module::to) may have replaced it after the forward pass.
  std::weak_ptr<TensorImpl> tensor;
};

std::ostream& operator<<(std::ostream& out, const Tensor& tensor);

// The backward engine lives above core, in autograd/; linking //autograd:engine registers it here,
// as linking //core/cuda:runtime registers the CUDA runtime.
using BackwardEngine = void (*)(const Tensor& root, const Tensor& gradient, bool retain_graph);
void register_backward_engine(BackwardEngine engine);

// Factories. dtype and device default to float32 on the CPU.
Tensor empty(const Shape& shape, DType dtype = DType::kFloat32, Device device = Device::cpu());
Tensor zeros(const Shape& shape, DType dtype = DType::kFloat32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = DType::kFloat32, Device device = Device::cpu());
Tensor full(const Shape& shape, double value, DType dtype = DType::kFloat32,
            Device device = Device::cpu());
Tensor empty_like(const Tensor& like);  // same shape, dtype and device; plain layout
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);
// A tensor holding `values` (row-major) with the given shape; values.size() must equal numel.
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = Device::cpu());
// A 0-dimensional tensor.
Tensor scalar_tensor(double value, DType dtype = DType::kFloat32, Device device = Device::cpu());

// The elements of an optional tensor (a bias, a GroupNorm scale), or nullptr when it is
// undefined: how a kernel takes an input that may be absent.
template <typename T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
template <typename T>
T* mutable_data_or_null(Tensor& t) {
  return t.defined() ? t.mutable_data<T>() : nullptr;
}

// ----------------------------------------------------------------------------------------------
// Template definitions.

template <typename T>
T& Tensor::at(std::initializer_list<int64_t> index) {
  BG_CHECK(device().is_cpu(), "Tensor::at: the tensor is on ", device(),
           "; call .to(Device::cpu())");
  return mutable_data<T>()[flat_index(index)];
}

template <typename T>
T Tensor::at(std::initializer_list<int64_t> index) const {
  BG_CHECK(device().is_cpu(), "Tensor::at: the tensor is on ", device(),
           "; call .to(Device::cpu())");
  return data<T>()[flat_index(index)];
}

}  // namespace bitgrad
