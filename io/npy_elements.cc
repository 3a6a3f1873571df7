#include "io/npy_elements.h"

#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"

namespace bitgrad {

const char kNpySupportedDescrs[] =
    "b1 (bool), u1, i1, u2, i2, u4, i4, u8, i8 (integers), f2, f4, f8 (floats), with byte order "
    "'<', '>', '|' or '='";

namespace {

bool is_integer_kind(char kind) { return kind == 'u' || kind == 'i'; }

// Significand bits of the floating dtypes: the widest integer each holds exactly.
int float_digits(DType dtype) {
  switch (dtype) {
    case DType::kFloat16: return 11;
    case DType::kFloat32: return 24;
    case DType::kFloat64: return 53;
    default: return 0;
  }
}

bool casts_exactly(const NpyElement& from, DType to) {
  if (from.kind == 'b') return to != DType::kBFloat16;
  if (to == DType::kUInt8) return from.kind == 'u' && from.size == 1;
  if (to == DType::kInt64) return is_integer_kind(from.kind);
  if (from.kind == 'f') {
    return float_digits(to) > 0 && static_cast<int>(dtype_size(to)) >= from.size;
  }
  const int magnitude_bits = 8 * from.size - (from.kind == 'i' ? 1 : 0);
  return magnitude_bits <= float_digits(to);
}

uint64_t load_bits(const unsigned char* bytes, int size, bool big_endian) {
  uint64_t bits = 0;
  for (int i = 0; i < size; ++i) bits |= uint64_t{bytes[big_endian ? size - 1 - i : i]} << (8 * i);
  return bits;
}

template <typename Float, typename Bits>
Float float_from_bits(uint64_t bits) {
  const auto narrow = static_cast<Bits>(bits);
  Float value;
  std::memcpy(&value, &narrow, sizeof(value));
  return value;
}

}  // namespace

std::string NpyElement::descr() const {
  const char order = size == 1 ? '|' : (big_endian ? '>' : '<');
  return absl::StrCat(std::string(1, order), std::string(1, kind), size);
}

std::string NpyElement::numpy_name() const {
  switch (kind) {
    case 'b': return "bool";
    case 'u': return absl::StrCat("uint", 8 * size);
    case 'i': return absl::StrCat("int", 8 * size);
    default: return absl::StrCat("float", 8 * size);
  }
}

absl::StatusOr<NpyElement> parse_npy_descr(const std::string& descr, const std::string& where) {
  auto unsupported = [&] {
    return absl::InvalidArgumentError(absl::StrCat(where, ": unsupported dtype '", descr,
                                                   "'; supported: ", kNpySupportedDescrs));
  };
  if (descr.size() != 3) return unsupported();
  NpyElement element;
  const char order = descr[0];
  element.kind = descr[1];
  element.size = descr[2] - '0';
  // '=' is the writer's native order; every machine that writes .npy files today is little-endian.
  if (order != '<' && order != '>' && order != '|' && order != '=') return unsupported();
  element.big_endian = order == '>' && element.size > 1;
  const bool known = (element.kind == 'b' && element.size == 1) ||
                     (is_integer_kind(element.kind) &&
                      (element.size == 1 || element.size == 2 || element.size == 4 ||
                       element.size == 8)) ||
                     (element.kind == 'f' &&
                      (element.size == 2 || element.size == 4 || element.size == 8));
  if (!known) return unsupported();
  return element;
}

DType npy_read_dtype(const NpyElement& element) {
  if (element.kind == 'b' || (element.kind == 'u' && element.size == 1)) return DType::kUInt8;
  if (is_integer_kind(element.kind)) return DType::kInt64;
  if (element.size == 2) return DType::kFloat16;
  return element.size == 4 ? DType::kFloat32 : DType::kFloat64;
}

const char* npy_descr_of(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "<f4";
    case DType::kFloat64: return "<f8";
    case DType::kInt64: return "<i8";
    case DType::kUInt8: return "|u1";
    case DType::kFloat16: return "<f2";
    case DType::kBFloat16: return nullptr;
  }
  return nullptr;
}

absl::Status decode_npy_elements(const NpyElement& element, const char* raw, Tensor& out,
                                 const std::string& where) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw);
  const int64_t count = out.numel();
  const int size = element.size;
  const int shift = 64 - 8 * size;  // sign extension of narrow signed integers
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t bits = load_bits(bytes + i * size, size, element.big_endian);
    switch (out.dtype()) {
      case DType::kUInt8:
        out.mutable_data<uint8_t>()[i] =
            element.kind == 'b' ? bits != 0 : static_cast<uint8_t>(bits);
        break;
      case DType::kInt64:
        if (element.kind == 'u' && bits > uint64_t{std::numeric_limits<int64_t>::max()}) {
          return absl::InvalidArgumentError(absl::StrCat(
              where, ": value ", bits, " of the '", element.descr(), "' array (element ", i,
              ") does not fit int64"));
        }
        out.mutable_data<int64_t>()[i] =
            element.kind == 'u' ? static_cast<int64_t>(bits)
                                : static_cast<int64_t>(bits << shift) >> shift;
        break;
      case DType::kFloat16:
        out.mutable_data<Float16>()[i].bits = static_cast<uint16_t>(bits);
        break;
      case DType::kFloat32:
        out.mutable_data<float>()[i] = float_from_bits<float, uint32_t>(bits);
        break;
      case DType::kFloat64:
        out.mutable_data<double>()[i] = float_from_bits<double, uint64_t>(bits);
        break;
      case DType::kBFloat16:
        return absl::InternalError(absl::StrCat(where, ": .npy has no bfloat16"));
    }
  }
  return absl::OkStatus();
}

Tensor fortran_to_c_order(const Tensor& reversed) {
  const int64_t rank = reversed.dim();
  std::vector<int64_t> extents(rank), in_strides(rank);
  Shape shape;
  int64_t stride = 1;
  for (int64_t k = 0; k < rank; ++k) {
    extents[k] = reversed.size(rank - 1 - k);
    shape.push_back(extents[k]);
    in_strides[k] = stride;  // column-major: the first index moves fastest in the file
    stride *= extents[k];
  }
  Tensor out = empty(shape, reversed.dtype());
  const size_t item = dtype_size(reversed.dtype());
  const auto* in = static_cast<const char*>(reversed.raw_data());
  auto* dst = static_cast<char*>(out.mutable_raw_data());
  std::vector<int64_t> index(rank, 0);
  int64_t offset = 0;
  for (int64_t i = 0; i < out.numel(); ++i) {
    std::memcpy(dst + i * item, in + offset * item, item);
    for (int64_t k = rank - 1; k >= 0; --k) {  // the C-order odometer
      offset += in_strides[k];
      if (++index[k] < extents[k]) break;
      offset -= in_strides[k] * extents[k];
      index[k] = 0;
    }
  }
  return out;
}

absl::StatusOr<Tensor> npy_array_as(const Tensor& array, const NpyElement& stored, DType dtype,
                                    const std::string& where) {
  if (array.dtype() == dtype) return array;
  if (!casts_exactly(stored, dtype)) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": the array is stored as '", stored.descr(), "', which does not convert to ",
        dtype_name(dtype), " exactly"));
  }
  return array.to(dtype);
}

}  // namespace bitgrad
