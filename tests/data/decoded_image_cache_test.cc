#include "data/decoded_image_cache.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

const std::string kJpeg = "tests/data/testdata/rgb.jpg";  // 13x17
const std::string kPng = "tests/data/testdata/rgb8.png";  // 5x7

ImageSet two_files() { return ImageSet{"files", Tensor(), {kJpeg, kPng}, {0, 1}, {"a", "b"}}; }

TEST(DecodedImageCacheTest, EachFileIsDecodedOnceAndGivesWhatTheSetGives) {
  const ImageSet set = two_files();
  DecodedImageCache cache(set, {4, 4}, /*budget_bytes=*/1 << 20);
  auto first = cache.image(0);
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = cache.image(0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(first->get(), again->get());  // the same decoded image
  EXPECT_EQ(cache.hits(), 1);
  absl::StatusOr<Image> direct = set.image(0, {4, 4});
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ((*first)->height, 4);  // decoded at 1/4 scale, as asked
  EXPECT_EQ((*first)->pixels, direct->pixels);
  ASSERT_TRUE(cache.image(1).ok());
  EXPECT_EQ(cache.bytes(), 4 * 5 * 3 + 5 * 7 * 3);
}

TEST(DecodedImageCacheTest, TheBudgetBoundsWhatIsKept) {
  const ImageSet set = two_files();
  // 663 bytes: the PNG's 105 fit, and then the JPEG's 663 do not.
  DecodedImageCache cache(set, {}, /*budget_bytes=*/13 * 17 * 3);
  ASSERT_TRUE(cache.image(1).ok());
  ASSERT_TRUE(cache.image(0).ok());
  ASSERT_TRUE(cache.image(0).ok());
  EXPECT_EQ(cache.bytes(), 5 * 7 * 3);
  EXPECT_EQ(cache.hits(), 0);
  DecodedImageCache exact(set, {}, /*budget_bytes=*/5 * 7 * 3);  // the PNG fills it
  ASSERT_TRUE(exact.image(1).ok());
  ASSERT_TRUE(exact.image(1).ok());
  EXPECT_EQ(exact.bytes(), 5 * 7 * 3);
  EXPECT_EQ(exact.hits(), 1);
  DecodedImageCache none(set, {}, 0);
  ASSERT_TRUE(none.image(1).ok());
  ASSERT_TRUE(none.image(1).ok());
  EXPECT_EQ(none.bytes(), 0);
  EXPECT_EQ(none.hits(), 0);
}

TEST(DecodedImageCacheTest, PixelSetsAreNotCopiedAndErrorsNameTheFile) {
  ImageSet pixels{"numbers.bin", zeros({1, 4, 4, 1}, DType::kUInt8), {}, {0}, {"a"}};
  DecodedImageCache from_pixels(pixels, {}, 1 << 20);
  ASSERT_TRUE(from_pixels.image(0).ok());
  EXPECT_EQ(from_pixels.bytes(), 0);
  const ImageSet missing{"files", Tensor(), {"/nonexistent/x.png"}, {0}, {"a"}};
  DecodedImageCache cache(missing, {}, 1 << 20);
  EXPECT_TRUE(testing::fails_naming(cache.image(0).status(), {"/nonexistent/x.png"}));
  EXPECT_EQ(cache.bytes(), 0);
}

}  // namespace
}  // namespace bitgrad
