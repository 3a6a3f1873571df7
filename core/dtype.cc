#include "core/dtype.h"

#include <cmath>

namespace bitgrad {
namespace {

uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

float bits_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace

// Round to nearest even on the upper 16 bits; NaN stays NaN.
BFloat16::BFloat16(float value) {
  uint32_t bits32 = float_bits(value);
  if (std::isnan(value)) {
    bits = 0x7fc0;
    return;
  }
  uint32_t rounding = 0x7fff + ((bits32 >> 16) & 1);
  bits = static_cast<uint16_t>((bits32 + rounding) >> 16);
}

BFloat16::operator float() const { return bits_float(static_cast<uint32_t>(bits) << 16); }

// IEEE half, round to nearest even, with subnormals, infinities and NaN.
Float16::Float16(float value) {
  uint32_t x = float_bits(value);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t magnitude = x & 0x7fffffff;
  if (magnitude >= 0x7f800000) {  // inf or NaN
    bits = static_cast<uint16_t>(sign | 0x7c00 | (magnitude > 0x7f800000 ? 0x200 : 0));
    return;
  }
  if (magnitude >= 0x477ff000) {  // rounds to >= 65520: overflow to inf
    bits = static_cast<uint16_t>(sign | 0x7c00);
    return;
  }
  if (magnitude < 0x38800000) {  // below the smallest normal half: subnormal or zero
    float scaled = bits_float(magnitude) * 16777216.0f;  // 2^24: one unit = the smallest subnormal
    bits = static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
    return;
  }
  uint32_t rounded = magnitude + 0xfff + ((magnitude >> 13) & 1);
  bits = static_cast<uint16_t>(sign | ((rounded - 0x38000000) >> 13));
}

Float16::operator float() const {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ff;
  if (exponent == 0) {  // zero or subnormal
    float value = static_cast<float>(mantissa) / 16777216.0f;
    return sign ? -value : value;
  }
  if (exponent == 31) return bits_float(sign | 0x7f800000 | (mantissa << 13));
  return bits_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return 4;
    case DType::kFloat64: return 8;
    case DType::kInt64: return 8;
    case DType::kUInt8: return 1;
    case DType::kBFloat16: return 2;
    case DType::kFloat16: return 2;
  }
  BG_ASSERT(false, "unknown dtype ", static_cast<int>(dtype));
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kInt64: return "int64";
    case DType::kUInt8: return "uint8";
    case DType::kBFloat16: return "bfloat16";
    case DType::kFloat16: return "float16";
  }
  return "unknown";
}

bool is_floating(DType dtype) {
  return dtype == DType::kFloat32 || dtype == DType::kFloat64 || dtype == DType::kBFloat16 ||
         dtype == DType::kFloat16;
}

}  // namespace bitgrad
