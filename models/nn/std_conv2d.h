// StdConv2d: a convolution with a weight-standardized kernel (BiT, bit.md §1.2):
//   y = conv2d(x, weight_standardize(weight, eps)),  eps = 1e-10 inside the sqrt.
// The stored "weight" stays raw (the checkpoints hold raw kernels); gradients flow through the
// standardization to it.
//
// Caching. The standardized kernel depends on the weight only, so inference needs it once, not
// on every forward. It is cached when the module is in eval mode AND no gradient can reach the
// weight (grad mode off, e.g. under NoGradGuard, or weight.requires_grad() false); otherwise it
// is recomputed on every call, inside the autograd graph. The cache is dropped by
//   - train() and eval() (so switching to eval always starts from the current weights),
//   - Module::to(), and Module::invalidate_caches() (which the weight loaders call),
//   - any change of the weight's memory (Tensor::set_data, e.g. a loader swapping arrays in):
//     the cache remembers the Storage it was computed from and holds it, so a new array can
//     never reuse its address;
//   - any counted in-place write to the weight (copy_, fill_, an optimizer step), which moves
//     the memory's version (Tensor::version).
// Writing into the weight through raw pointers (mutable_data, at) while in eval mode without
// calling invalidate_caches() is the one change it cannot see.
#pragma once

#include <cstdint>
#include <memory>

#include "models/nn/conv2d.h"

namespace bitgrad::nn {

class StdConv2d : public Conv2d {
 public:
  static constexpr double kEps = 1e-10;

  explicit StdConv2d(const Conv2dOptions& options, Generator& generator = default_generator(),
                     double eps = kEps);

  double eps() const { return eps_; }
  // Whether the last forward used (or filled) the cache; for tests.
  bool has_cached_weight() const { return cached_weight_.defined(); }

 protected:
  Tensor effective_weight() override;
  void clear_cache() override;

 private:
  double eps_;
  Tensor cached_weight_;
  // Where the weight's memory was when the cache was filled.
  std::shared_ptr<Storage> cached_from_;
  size_t cached_offset_ = 0;
  uint64_t cached_version_ = 0;
};

}  // namespace bitgrad::nn
