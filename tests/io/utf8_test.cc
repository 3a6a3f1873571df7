#include "io/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace bitgrad {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  for (const std::string text :
       {"", "cat", "caf\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x90\x88", "\xED\x9F\xBF",
        "\xEF\xBF\xBF", "\xF4\x8F\xBF\xBF", "a\nb"}) {
    EXPECT_TRUE(is_utf8(text)) << text;
  }
}

TEST(Utf8Test, CountsCharactersNotBytes) {
  EXPECT_EQ(utf8_characters(""), 0u);
  EXPECT_EQ(utf8_characters("cat"), 3u);
  EXPECT_EQ(utf8_characters("caf\xC3\xA9"), 4u);
  EXPECT_EQ(utf8_characters("\xE2\x82\xAC \xF0\x9F\x90\x88"), 3u);  // euro, space, cat
}

TEST(Utf8Test, RefusesEveryKindOfMalformedByte) {
  for (const std::string text : {
           "caf\xE9",           // Latin-1
           "\x80",              // a continuation byte with no lead
           "\xC0\xAF",          // overlong '/'
           "\xC1\xBF",          // overlong
           "\xE0\x9F\xBF",      // overlong 3-byte form
           "\xED\xA0\x80",      // a UTF-16 surrogate
           "\xF0\x8F\xBF\xBF",  // overlong 4-byte form
           "\xF4\x90\x80\x80",  // above U+10FFFF
           "\xF5\x80\x80\x80",  // no such lead byte
           "\xFF",              //
           "\xC3",              // cut short
           "\xE2\x82",          // cut short
           "\xE2\x28\xA1",      // a bad continuation byte
       }) {
    EXPECT_FALSE(is_utf8(text)) << testing::PrintToString(text);
  }
}

}  // namespace
}  // namespace bitgrad
