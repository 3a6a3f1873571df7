#include "core/check.h"

#include <cstring>

namespace bitgrad::detail {
namespace {

// "core/tensor.cc" rather than a sandbox-absolute path.
const char* short_path(const char* file) {
  for (const char* root : {"/core/", "/ops/", "/autograd/", "/models/", "/data/", "/optim/"}) {
    if (const char* hit = std::strstr(file, root)) return hit + 1;
  }
  return file;
}

}  // namespace

void throw_check_failure(const char* file, int line, const std::string& message) {
  throw Error(str_cat(message, " [", short_path(file), ":", line, "]"));
}

void throw_assert_failure(const char* file, int line, const char* condition,
                          const std::string& message) {
  throw Error(str_cat("internal error (a bitgrad bug, please report it): ", condition, " failed",
                      message.empty() ? "" : ": ", message, " [", short_path(file), ":", line,
                      "]"));
}

}  // namespace bitgrad::detail
