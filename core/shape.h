// A tensor's shape: a short list of non-negative extents, outermost first (N, C, H, W).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "core/check.h"

namespace bitgrad {

class Shape {
 public:
  using Storage = absl::InlinedVector<int64_t, 6>;

  // Moving a Shape copies its whole inline buffer, unset slots too (absl::InlinedVector's memcpy),
  // so GCC -O2 falsely warns -Wmaybe-uninitialized where it sees an empty Shape moved, even one
  // written `Shape s{}`. Op structs therefore get their inputs' shapes when made, not in
  // forward: apply(Expand{shape, x.shape()}, x).
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(const std::vector<int64_t>& dims) : dims_(dims.begin(), dims.end()) {}
  template <typename It>
  Shape(It begin, It end) : dims_(begin, end) {}

  int64_t rank() const { return static_cast<int64_t>(dims_.size()); }
  int64_t numel() const {
    // A zero extent anywhere means no elements, and the product of the others must not be
    // formed: it can overflow ((0, 2^48, 2^48) is empty; file readers refuse such a shape on
    // their own, io/file_limits.h).
    for (int64_t d : dims_) {
      if (d == 0) return 0;
    }
    int64_t n = 1;
    for (int64_t d : dims_) {
      BG_CHECK(!__builtin_mul_overflow(n, d, &n), "shape ", str(), " has more than 2^63 "
               "elements");
    }
    return n;
  }
  // Negative indices count from the back, as in Python: shape[-1] is the last extent.
  int64_t operator[](int64_t i) const { return dims_[i < 0 ? i + rank() : i]; }
  int64_t& operator[](int64_t i) { return dims_[i < 0 ? i + rank() : i]; }

  const int64_t* begin() const { return dims_.data(); }
  const int64_t* end() const { return dims_.data() + dims_.size(); }
  void push_back(int64_t d) { dims_.push_back(d); }
  std::vector<int64_t> vec() const { return {dims_.begin(), dims_.end()}; }

  bool operator==(const Shape& other) const { return dims_ == other.dims_; }
  bool operator!=(const Shape& other) const { return !(*this == other); }

  std::string str() const {  // "(2, 3, 4)", "()" for a scalar
    std::string s = "(";
    for (size_t i = 0; i < dims_.size(); ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
    return s + ")";
  }

 private:
  Storage dims_;
};

inline std::ostream& operator<<(std::ostream& out, const Shape& shape) {
  return out << shape.str();
}

}  // namespace bitgrad
