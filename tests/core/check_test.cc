#include "core/check.h"

#include <string>

#include "gtest/gtest.h"

namespace bitgrad {
namespace {

TEST(CheckTest, FailureNamesTheSourceFileFromTheRoot) {
  try {
    BG_CHECK(false, "a message");
    FAIL() << "BG_CHECK(false) did not throw";
  } catch (const Error& error) {
    const std::string what = error.what();
    EXPECT_NE(what.find("a message [tests/core/check_test.cc:"), std::string::npos) << what;
  }
}

// Any file under the root is shortened, not only bitgrad's own folders (a custom op's errors
// too); a file elsewhere keeps its full path.
TEST(CheckTest, PathsAreShortenedByTheSourceRootNotAListOfFolders) {
  const std::string root = "/home/user/bitgrad/";
  EXPECT_STREQ(detail::source_relative("/home/user/bitgrad/examples/custom_op/silu.cc", root),
               "examples/custom_op/silu.cc");
  EXPECT_STREQ(detail::source_relative("/home/user/bitgrad/core/tensor.cc", root),
               "core/tensor.cc");
  EXPECT_STREQ(detail::source_relative("external/bitgrad/ops/conv.cc", "external/bitgrad/"),
               "ops/conv.cc");
  EXPECT_STREQ(detail::source_relative("/elsewhere/my_op.cc", root), "/elsewhere/my_op.cc");
  EXPECT_STREQ(detail::source_relative("mypkg/my_op.cc", ""), "mypkg/my_op.cc");
}

}  // namespace
}  // namespace bitgrad
