// The element side of .npy: what a descr ('<i4', '>f8', '|b1') means, the bitgrad dtype that
// holds its values exactly, and the conversion of raw file bytes (either byte order, C or Fortran
// element order) into a plain C-order tensor. Used by io/npy.h, and through it by io/npz.h.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/tensor.h"

namespace bitgrad {

// One array element as the file stores it.
struct NpyElement {
  char kind = 'f';  // numpy's kind: 'b' bool, 'u' unsigned, 'i' signed, 'f' floating point
  int size = 4;     // bytes
  bool big_endian = false;
  std::string descr() const;       // as numpy writes it: "<f4", ">i2", "|u1"
  std::string numpy_name() const;  // as numpy names it: "float32", "int16", "uint8", "bool"
};

// What the readers accept, for error messages.
extern const char kNpySupportedDescrs[];

// The element a descr names ('<', '>', '|' or '=' byte order), or an error naming `where`.
absl::StatusOr<NpyElement> parse_npy_descr(const std::string& descr, const std::string& where);
// The dtype that holds every value of `element` exactly: bool and u1 read as uint8, the other
// integers as int64 (u8 values above 2^63 - 1 are refused when read), f2/f4/f8 as
// float16/float32/float64.
DType npy_read_dtype(const NpyElement& element);
// The descr numpy writes for `dtype` (little-endian), or null where .npy has none (bfloat16).
const char* npy_descr_of(DType dtype);

// Converts the raw bytes of `out.numel()` elements, in file order, into `out` (a plain CPU tensor
// of npy_read_dtype(element)). Fails only for u8 values that int64 cannot hold.
absl::Status decode_npy_elements(const NpyElement& element, const char* raw, Tensor& out,
                                 const std::string& where);
// The C-order array whose Fortran-order (column-major) data `reversed` holds as a C-order array
// of the reversed shape: numpy's fortran_order=True layout.
Tensor fortran_to_c_order(const Tensor& reversed);

// `array`, read from elements of `stored`, as `dtype`: itself when the dtype matches, converted
// when every value of `stored` converts exactly (numpy's "safe" casting: '<i4' to int64 or
// float64, '|u1' to anything), otherwise an error naming `where` and both dtypes.
absl::StatusOr<Tensor> npy_array_as(const Tensor& array, const NpyElement& stored, DType dtype,
                                    const std::string& where);

}  // namespace bitgrad
