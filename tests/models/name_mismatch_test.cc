#include "models/name_mismatch.h"

#include "gtest/gtest.h"

namespace bitgrad {
namespace {

TEST(NameMismatchTest, EmptyWhenNothingIsWrong) {
  NameMismatch mismatch;
  EXPECT_TRUE(mismatch.empty());
  EXPECT_TRUE(mismatch.describe("array").empty());
}

TEST(NameMismatchTest, OneLinePerKindInAFixedOrder) {
  NameMismatch mismatch;
  mismatch.mismatched = {"a: shape (2) in the file, expected (3)"};
  mismatch.missing = {"b (expected shape (4))", "c (expected shape (5))"};
  EXPECT_FALSE(mismatch.empty());
  EXPECT_EQ(mismatch.describe("array"),
            (std::vector<std::string>{
                "2 missing array(s): b (expected shape (4)); c (expected shape (5))",
                "1 mismatched array(s): a: shape (2) in the file, expected (3)"}));
}

TEST(NameMismatchTest, LongListsShowTheFirstFiveAndCountTheRest) {
  NameMismatch mismatch;
  for (int i = 0; i < 12; ++i) mismatch.unexpected.push_back("k" + std::to_string(i));
  EXPECT_EQ(mismatch.describe("parameter"),
            (std::vector<std::string>{
                "12 unexpected parameter(s): k0; k1; k2; k3; k4; and 7 more"}));
}

TEST(NameMismatchTest, FiveEntriesAreAllShownWithNoCount) {
  NameMismatch mismatch;
  for (int i = 0; i < 5; ++i) mismatch.missing.push_back("k" + std::to_string(i));
  EXPECT_EQ(mismatch.describe("array"),
            std::vector<std::string>{"5 missing array(s): k0; k1; k2; k3; k4"});
}

}  // namespace
}  // namespace bitgrad
