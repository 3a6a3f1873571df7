#include "models/module.h"

#include <algorithm>

#include "core/check.h"

namespace bitgrad {
namespace {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using NamedModules = std::vector<std::pair<std::string, std::shared_ptr<Module>>>;

template <typename Entries>
auto find_entry(Entries& entries, const std::string& name) {
  return std::find_if(entries.begin(), entries.end(),
                      [&](const auto& entry) { return entry.first == name; });
}

// Splits "a.b.c" into ("a.b", "c"); a name without a dot has an empty owner path.
std::pair<std::string, std::string> split_last(const std::string& dotted) {
  size_t dot = dotted.rfind('.');
  if (dot == std::string::npos) return {"", dotted};
  return {dotted.substr(0, dot), dotted.substr(dot + 1)};
}

}  // namespace

Module::Module(std::string type_name) : type_name_(std::move(type_name)) {}

void Module::check_new_name(const std::string& name, const char* what) const {
  BG_CHECK(!name.empty(), type_name_, ": register_", what, ": the name is empty");
  BG_CHECK(name.find('.') == std::string::npos, type_name_, ": register_", what, ": the name '",
           name, "' contains a '.', which separates path components in dotted names");
  const char* taken = nullptr;
  if (find_entry(parameters_, name) != parameters_.end()) taken = "a parameter";
  if (find_entry(buffers_, name) != buffers_.end()) taken = "a buffer";
  if (find_entry(children_, name) != children_.end()) taken = "a submodule";
  BG_CHECK(taken == nullptr, type_name_, ": register_", what, ": the name '", name,
           "' is already registered as ", taken);
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor, bool requires_grad) {
  check_new_name(name, "parameter");
  BG_CHECK(tensor.defined(), type_name_, ": register_parameter: '", name,
           "' is an undefined tensor; leave an absent parameter unregistered");
  BG_CHECK(is_floating(tensor.dtype()), type_name_, ": register_parameter: '", name,
           "' must be a floating tensor, got ", dtype_name(tensor.dtype()));
  BG_CHECK(tensor.is_leaf(), type_name_, ": register_parameter: '", name,
           "' is the result of an op (it has a grad_fn); register a leaf, e.g. x.detach()");
  tensor.set_requires_grad(requires_grad);
  parameters_.emplace_back(name, tensor);
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
  check_new_name(name, "buffer");
  BG_CHECK(tensor.defined(), type_name_, ": register_buffer: '", name,
           "' is an undefined tensor");
  buffers_.emplace_back(name, tensor);
  return tensor;
}

void Module::add_module(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name, "module");
  BG_CHECK(module != nullptr, type_name_, ": register_module: '", name, "' is null");
  BG_CHECK(module.get() != this, type_name_, ": register_module: '", name,
           "' is the module itself");
  children_.emplace_back(name, std::move(module));
}

void Module::swap_module(const std::string& name, std::shared_ptr<Module> module) {
  auto it = find_entry(children_, name);
  BG_CHECK(it != children_.end(), type_name_, ": replace_module: no submodule named '", name,
           "'");
  BG_CHECK(module != nullptr, type_name_, ": replace_module: '", name, "' is null");
  it->second = std::move(module);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out = parameters_;
  if (!recurse) return out;
  for (const auto& [child_name, child] : children_) {
    for (auto& [name, tensor] : child->named_parameters(true)) {
      out.emplace_back(child_name + "." + name, tensor);
    }
  }
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out = buffers_;
  if (!recurse) return out;
  for (const auto& [child_name, child] : children_) {
    for (auto& [name, tensor] : child->named_buffers(true)) {
      out.emplace_back(child_name + "." + name, tensor);
    }
  }
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& entry : named_parameters(recurse)) out.push_back(entry.second);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& entry : named_buffers(recurse)) out.push_back(entry.second);
  return out;
}

NamedModules Module::named_children() const { return children_; }

NamedModules Module::named_modules() const {
  NamedModules out;
  for (const auto& [child_name, child] : children_) {
    out.emplace_back(child_name, child);
    for (auto& [name, module] : child->named_modules()) {
      out.emplace_back(child_name + "." + name, module);
    }
  }
  return out;
}

std::shared_ptr<Module> Module::submodule(const std::string& dotted_name) const {
  const Module* current = this;
  std::shared_ptr<Module> found;
  size_t start = 0;
  while (true) {
    size_t dot = dotted_name.find('.', start);
    std::string part = dotted_name.substr(start, dot == std::string::npos ? dot : dot - start);
    auto it = find_entry(current->children_, part);
    BG_CHECK(it != current->children_.end(), type_name_, ": no submodule named '", dotted_name,
             "' (", current->type_name_, " has no child '", part, "')");
    found = it->second;
    current = found.get();
    if (dot == std::string::npos) return found;
    start = dot + 1;
  }
}

Tensor Module::parameter(const std::string& dotted_name) const {
  auto [owner_path, name] = split_last(dotted_name);
  const Module* owner = this;
  std::shared_ptr<Module> keep;
  if (!owner_path.empty()) owner = (keep = submodule(owner_path)).get();
  auto it = find_entry(owner->parameters_, name);
  BG_CHECK(it != owner->parameters_.end(), type_name_, ": no parameter named '", dotted_name,
           "'");
  return it->second;
}

Tensor Module::buffer(const std::string& dotted_name) const {
  auto [owner_path, name] = split_last(dotted_name);
  const Module* owner = this;
  std::shared_ptr<Module> keep;
  if (!owner_path.empty()) owner = (keep = submodule(owner_path)).get();
  auto it = find_entry(owner->buffers_, name);
  BG_CHECK(it != owner->buffers_.end(), type_name_, ": no buffer named '", dotted_name, "'");
  return it->second;
}

void Module::train(bool on) {
  training_ = on;
  clear_cache();
  for (auto& entry : children_) entry.second->train(on);
}

template <typename Fn>
void Module::for_each_tensor(Fn&& fn) {
  for (auto& entry : parameters_) fn(entry.second);
  for (auto& entry : buffers_) fn(entry.second);
  for (auto& entry : children_) entry.second->for_each_tensor(fn);
}

void Module::to(Device device) {
  for_each_tensor([&](Tensor& tensor) {
    if (tensor.device() != device) tensor.set_data(tensor.to(device));
    Tensor grad = tensor.grad();
    if (grad.defined() && grad.device() != device) tensor.set_grad(grad.to(device));
  });
  invalidate_caches();
}

Device Module::device() const {
  const Tensor* first = first_parameter();
  return first != nullptr ? first->device() : Device::cpu();
}

DType Module::dtype() const {
  const Tensor* first = first_parameter();
  return first != nullptr ? first->dtype() : DType::kFloat32;
}

// named_parameters()'s first entry without building the list (the training loop asks every
// micro-batch): this module's own first, then its children's, depth first.
const Tensor* Module::first_parameter() const {
  if (!parameters_.empty()) return &parameters_.front().second;
  for (const auto& [name, child] : children_) {
    if (const Tensor* first = child->first_parameter()) return first;
  }
  return nullptr;
}

void Module::to(DType dtype) {
  BG_CHECK(is_floating(dtype), type_name_, ": to(", dtype_name(dtype),
           "): modules convert only to floating dtypes");
  for_each_tensor([&](Tensor& tensor) {
    if (!is_floating(tensor.dtype())) return;
    if (tensor.dtype() != dtype) tensor.set_data(tensor.to(dtype));
    Tensor grad = tensor.grad();
    if (grad.defined() && grad.dtype() != dtype) tensor.set_grad(grad.to(dtype));
  });
  invalidate_caches();
}

void Module::zero_grad() {
  for (auto& entry : parameters_) entry.second.set_grad(Tensor());
  for (auto& entry : children_) entry.second->zero_grad();
}

void Module::invalidate_caches() {
  clear_cache();
  for (auto& entry : children_) entry.second->invalidate_caches();
}

int64_t count_elements(const std::vector<Tensor>& tensors) {
  int64_t total = 0;
  for (const Tensor& tensor : tensors) total += tensor.numel();
  return total;
}

int64_t count_elements(const std::vector<std::pair<std::string, Tensor>>& named_tensors) {
  int64_t total = 0;
  for (const auto& [name, tensor] : named_tensors) total += tensor.numel();
  return total;
}

}  // namespace bitgrad
