#include "data/few_shot.h"

#include "gtest/gtest.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

// 30 one-pixel gray images, pixel value i, label i % 3.
ImageSet thirty() {
  ImageSet set;
  set.source = "thirty.bin";
  set.pixels = empty({30, 1, 1, 1}, DType::kUInt8);
  for (int64_t i = 0; i < 30; ++i) {
    set.pixels.mutable_data<uint8_t>()[i] = static_cast<uint8_t>(i);
    set.labels.push_back(i % 3);
  }
  set.class_names = {"a", "b", "c"};
  return set;
}

std::vector<uint8_t> pixels(const ImageSet& set) { return set.pixels.to_vector<uint8_t>(); }

TEST(FewShotTest, DrawsKPerClassFromTheSeed) {
  absl::StatusOr<ImageSet> sub = few_shot_subset(thirty(), 4, 5);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_EQ(sub->size(), 12);
  std::vector<int> per_class(3);
  for (int64_t i = 0; i < sub->size(); ++i) {
    ++per_class[sub->labels[i]];
    EXPECT_EQ(sub->labels[i], pixels(*sub)[i] % 3);  // labels still match their images
    if (i > 0) {
      EXPECT_LT(pixels(*sub)[i - 1], pixels(*sub)[i]);  // file order
    }
  }
  EXPECT_EQ(per_class, (std::vector<int>{4, 4, 4}));
  EXPECT_EQ(pixels(*few_shot_subset(thirty(), 4, 5)), pixels(*sub));
  EXPECT_NE(pixels(*few_shot_subset(thirty(), 4, 6)), pixels(*sub));
}

TEST(FewShotTest, FailsWhenAClassIsTooSmall) {
  ImageSet set = thirty();
  set.labels[4] = 0;  // class "b" now has 9 examples
  EXPECT_TRUE(few_shot_subset(set, 9, 0).ok());
  EXPECT_TRUE(testing::fails_naming(
      few_shot_subset(set, 10, 0).status(),
      {"thirty.bin", "class 1 (\"b\")", "9 examples", "10 per class"}));
  EXPECT_TRUE(testing::fails_naming(few_shot_subset(set, 0, 0).status(), {"at least 1, got 0"}));
}

}  // namespace
}  // namespace bitgrad
