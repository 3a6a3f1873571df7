// Element types. float32 is the training type, float64 is for gradcheck and reference numbers,
// int64 holds labels and indices, uint8 holds image bytes and opaque kernel workspaces. bfloat16
// and float16 are storage types for now: tensors of them can be created, copied and converted.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "core/check.h"

namespace bitgrad {

enum class DType : uint8_t { kFloat32, kFloat64, kInt64, kUInt8, kBFloat16, kFloat16 };

// 16-bit floats, stored as raw bits; arithmetic goes through float.
struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  explicit BFloat16(float value);
  explicit operator float() const;
};

struct Float16 {
  uint16_t bits = 0;
  Float16() = default;
  explicit Float16(float value);
  explicit operator float() const;
};

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "float32", as in PyTorch
bool is_floating(DType dtype);

// The DType of a C++ element type: dtype_of<float>() == DType::kFloat32.
template <typename T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::kFloat32; }
template <> constexpr DType dtype_of<double>() { return DType::kFloat64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::kInt64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::kUInt8; }
template <> constexpr DType dtype_of<BFloat16>() { return DType::kBFloat16; }
template <> constexpr DType dtype_of<Float16>() { return DType::kFloat16; }

}  // namespace bitgrad

// Runs a lambda with `scalar_t` bound to float or double, by a runtime dtype; other dtypes throw
// an Error naming `op_name`. The lambda's return value is returned. The shape of this follows
// PyTorch's AT_DISPATCH_FLOATING_TYPES, so kernels read the same way.
//
//   return BG_DISPATCH_FLOAT(x.dtype(), "relu", [&] { return relu_loop<scalar_t>(x); });
#define BG_DISPATCH_FLOAT(dtype_value, op_name, ...)                                           \
  [&] {                                                                                        \
    switch (dtype_value) {                                                                     \
      case ::bitgrad::DType::kFloat32: {                                                       \
        using scalar_t = float;                                                                \
        return __VA_ARGS__();                                                                  \
      }                                                                                        \
      case ::bitgrad::DType::kFloat64: {                                                       \
        using scalar_t = double;                                                               \
        return __VA_ARGS__();                                                                  \
      }                                                                                        \
      default:                                                                                 \
        BG_CHECK(false, op_name, ": expected a float32 or float64 tensor, got ",               \
                 ::bitgrad::dtype_name(dtype_value));                                          \
    }                                                                                          \
    BG_ASSERT(false, "unreachable");                                                           \
  }()
