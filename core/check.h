// Errors. User mistakes (bad shapes, wrong device, bad files) throw bitgrad::Error with a message
// that names the op or file and says what was expected. Internal invariants use BG_ASSERT, whose
// failure means a bug in bitgrad itself. Nothing here calls exit() or abort(): a library must let
// the caller decide.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace bitgrad {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// An allocation the device cannot hold: work sized by the user (a batch, an input size) to
// shrink, not a bug.
class OutOfMemoryError : public Error {
 public:
  using Error::Error;
};

namespace detail {

// Concatenates anything with an operator<< into one string.
template <typename... Parts>
std::string str_cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

// `file` from the source root on: the part of it that `root` (where this build finds
// core/check.cc) spells out is dropped. Other paths are returned as they are.
const char* source_relative(const char* file, std::string_view root);

[[noreturn]] void throw_check_failure(const char* file, int line, const std::string& message);
[[noreturn]] void throw_assert_failure(const char* file, int line, const char* condition,
                                       const std::string& message);

}  // namespace detail
}  // namespace bitgrad

// BG_CHECK(x.dim() == 4, "conv2d: expected a 4-D input (N,C,H,W), got shape ", x.shape());
#define BG_CHECK(condition, ...)                                                           \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      ::bitgrad::detail::throw_check_failure(__FILE__, __LINE__,                           \
                                             ::bitgrad::detail::str_cat(__VA_ARGS__));     \
    }                                                                                      \
  } while (0)

// BG_ASSERT(offset <= size, "view out of bounds"): an internal invariant, never user input.
#define BG_ASSERT(condition, ...)                                                          \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      ::bitgrad::detail::throw_assert_failure(__FILE__, __LINE__, #condition,              \
                                              ::bitgrad::detail::str_cat(__VA_ARGS__));    \
    }                                                                                      \
  } while (0)
