// Physical layouts. Every tensor has a logical NCHW row-major shape. Most tensors are also stored
// that way ("plain"). A backend may instead keep a tensor in its own faster layout between its
// own ops, such as oneDNN's channel-blocked nChw8c: such a tensor carries an OpaqueLayout that
// knows how to turn it back into plain memory.
//
// Kernels are plain-only unless they register as layout-aware (core/dispatch.h); the dispatcher
// converts opaque inputs to plain for them, so a conversion happens only where a consumer needs
// one, and custom ops never see a blocked tensor.
#pragma once

#include <cstddef>
#include <string>

#include "core/dtype.h"
#include "core/shape.h"

namespace bitgrad {

class OpaqueLayout {
 public:
  virtual ~OpaqueLayout() = default;
  // A short description, e.g. "onednn:aBcd8b". Shown when a tensor is printed.
  virtual std::string name() const = 0;
  // Bytes the physical layout occupies; may exceed numel * itemsize (blocks are padded).
  virtual size_t nbytes() const = 0;
  // Writes the values in plain row-major order. Both buffers are on the tensor's device.
  virtual void to_plain(const void* src, void* dst) const = 0;
  // Whether two layouts store a tensor identically (so data can be shared or copied as bytes).
  virtual bool same_as(const OpaqueLayout& other) const = 0;
};

}  // namespace bitgrad
