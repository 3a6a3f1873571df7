#include "core/check.h"

#include <cstring>

namespace bitgrad::detail {
namespace {

// The source root as this build spells paths: __FILE__ here is "<root>core/check.cc" (Bazel:
// "core/check.cc"; as an external repository: "external/bitgrad/core/check.cc"; other build
// systems: an absolute path). Every file compiled the same way starts with the same <root>.
std::string_view source_root() {
  constexpr std::string_view kSelf = "core/check.cc";
  std::string_view self = __FILE__;
  if (self.size() < kSelf.size() || self.substr(self.size() - kSelf.size()) != kSelf) return {};
  return self.substr(0, self.size() - kSelf.size());
}

const char* short_path(const char* file) { return source_relative(file, source_root()); }

}  // namespace

const char* source_relative(const char* file, std::string_view root) {
  if (root.empty() || std::strncmp(file, root.data(), root.size()) != 0) return file;
  return file + root.size();
}

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
