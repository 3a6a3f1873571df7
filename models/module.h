// Module: a named tree of parameters, buffers and submodules, in the LibTorch style.
//
//   class Block : public Module {
//    public:
//     Block() : Module("Block") {
//       conv = register_module("conv", std::make_shared<Conv2d>(Conv2dOptions(8, 8, 3)));
//       scale = register_parameter("scale", ones({8}));
//     }
//     std::shared_ptr<Conv2d> conv;
//     Tensor scale;
//   };
//
// Entries are kept in registration order. named_parameters() walks the tree depth-first: a
// module's own entries first, then each child's with "child." prepended, as in PyTorch, so the
// names read "body.block1.unit01.conv1.weight".
//
// Tensors are shared handles: the members a module keeps, the tensors named_parameters()
// returns and the handles an optimizer holds are the same tensors. to(Device) and to(DType)
// therefore move the data in place (Tensor::set_data) instead of replacing the tensors.
//
// Unlike PyTorch, named_modules() lists the descendants only, not the module itself.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/tensor.h"

namespace bitgrad {

class Module {
 public:
  explicit Module(std::string type_name = "Module");
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The class name ("Conv2d"), for messages and printing.
  const std::string& type_name() const { return type_name_; }

  // Registration. A name must be non-empty, contain no '.', and be unused by this module's
  // parameters, buffers and submodules; otherwise an Error names the module and the name.
  // A parameter is a floating leaf tensor; it is marked requires_grad unless asked otherwise.
  Tensor register_parameter(const std::string& name, Tensor tensor, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor tensor);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_module(name, module);
    return module;
  }
  // Swaps the submodule registered as `name` (which must exist) for another, keeping its place
  // in the order. Handles to the old submodule's parameters (an optimizer's) are not updated.
  template <typename M>
  std::shared_ptr<M> replace_module(const std::string& name, std::shared_ptr<M> module) {
    swap_module(name, module);
    return module;
  }

  // Dotted names in registration order; recurse = false lists this module's own entries only.
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  // Every descendant, depth-first pre-order ("body", "body.block1", ...); not this module.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules() const;

  // Look-ups by dotted name; an Error names the module and the missing name.
  Tensor parameter(const std::string& dotted_name) const;
  Tensor buffer(const std::string& dotted_name) const;
  std::shared_ptr<Module> submodule(const std::string& dotted_name) const;

  // Training mode, for this module and all descendants. Both calls also drop every cached
  // derived tensor (invalidate_caches), so eval() is the moment caches start from fresh weights.
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves every parameter and buffer (and any gradient) to `device`, in place: the tensors keep
  // their identity, so existing handles see the moved data.
  void to(Device device);
  // Where the parameters live: the first parameter's device (the CPU for a module without any).
  Device device() const;
  // The parameters' dtype: the first parameter's (float32 for a module without any).
  DType dtype() const;
  // Converts every floating parameter, buffer and gradient to `dtype`, in place.
  void to(DType dtype);

  // Sets every parameter's gradient to undefined (PyTorch's set_to_none = True).
  void zero_grad();

  // Drops cached tensors derived from the weights (e.g. StdConv2d's standardized kernel) in this
  // module and all descendants. train(), eval() and to() call it; so must anyone who writes into
  // parameters through raw pointers while in eval mode (the weight loaders call it too); writes
  // by copy_, fill_ or an optimizer step are seen without it (Tensor::version).
  void invalidate_caches();

 protected:
  // Overridden by modules that cache tensors derived from their parameters.
  virtual void clear_cache() {}

 private:
  void check_new_name(const std::string& name, const char* what) const;
  const Tensor* first_parameter() const;  // null without parameters
  void add_module(const std::string& name, std::shared_ptr<Module> module);
  void swap_module(const std::string& name, std::shared_ptr<Module> module);
  // Applies fn(tensor) to every parameter and buffer in the tree.
  template <typename Fn>
  void for_each_tensor(Fn&& fn);

  std::string type_name_;
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// Total number of elements over `tensors`.
int64_t count_elements(const std::vector<Tensor>& tensors);
int64_t count_elements(const std::vector<std::pair<std::string, Tensor>>& named_tensors);

}  // namespace bitgrad
