#include "data/bit_preprocess.h"

#include <set>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

TEST(HyperRuleTest, SmallImagesGet160To128AndLargeOnes512To480) {
  EXPECT_EQ(hyperrule_resolution(32, 32).precrop, 160);  // CIFAR
  EXPECT_EQ(hyperrule_resolution(28, 28).crop, 128);     // MNIST
  EXPECT_EQ(hyperrule_resolution(95, 97).crop, 128);     // 9215 < 9216
  EXPECT_EQ(hyperrule_resolution(96, 96).crop, 480);     // the boundary is strict
  EXPECT_EQ(hyperrule_resolution(224, 224).precrop, 512);
}

TEST(HyperRuleTest, ResolutionFlagKeepsThePrecropRatio) {
  const Resolution small = resolution_with_crop(32, 32, 64);
  EXPECT_EQ(small.crop, 64);
  EXPECT_EQ(small.precrop, 80);  // 64 * 160 / 128
  const Resolution large = resolution_with_crop(300, 300, 240);
  EXPECT_EQ(large.precrop, 256);  // 240 * 512 / 480
  // Rounded to nearest, not down.
  EXPECT_EQ(resolution_with_crop(300, 300, 100).precrop, 107);  // 106.67
  EXPECT_EQ(resolution_with_crop(32, 32, 30).precrop, 38);       // 37.5
  EXPECT_TRUE(testing::throws_error([] { resolution_with_crop(32, 32, 0); },
                                    {"resolution must be positive, got 0"}));
}

TEST(HyperRuleTest, ResolutionForATrainingSetLooksAtItsFirstImage) {
  ImageSet set;
  set.source = "set";
  set.pixels = zeros({2, 100, 100, 3}, DType::kUInt8);
  set.labels = {0, 0};
  set.class_names = {"a"};
  EXPECT_EQ(resolution_for(set, 0)->crop, 480);
  EXPECT_EQ(resolution_for(set, 240)->precrop, 256);
  EXPECT_TRUE(testing::fails_naming(resolution_for(ImageSet{"empty"}, 0).status(),
                                    {"empty", "no images"}));
}

// A 4 x 4 image whose pixel (y, x) has channels (10y + x, 100, 200).
Image grid4() {
  Image image{4, 4, {}};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      image.pixels.insert(image.pixels.end(), {static_cast<uint8_t>(10 * y + x), 100, 200});
    }
  return image;
}

float scaled(int value) { return static_cast<float>(value / 127.5 - 1.0); }

TEST(PreprocessForTrainTest, CropsTheWindowAndFlipsIt) {
  // precrop 4 = the image size: no resize, so the crop reads the pixels themselves.
  const Resolution resolution{4, 2};
  const Tensor plain = preprocess_for_train(grid4(), resolution, {1, 2, false});
  ASSERT_EQ(plain.shape(), Shape({3, 2, 2}));
  EXPECT_FLOAT_EQ(plain.at<float>({0, 0, 0}), scaled(12));
  EXPECT_FLOAT_EQ(plain.at<float>({0, 0, 1}), scaled(13));
  EXPECT_FLOAT_EQ(plain.at<float>({0, 1, 0}), scaled(22));
  EXPECT_FLOAT_EQ(plain.at<float>({2, 1, 1}), scaled(200));
  const Tensor flipped = preprocess_for_train(grid4(), resolution, {1, 2, true});
  EXPECT_FLOAT_EQ(flipped.at<float>({0, 0, 0}), scaled(13));
  EXPECT_FLOAT_EQ(flipped.at<float>({0, 1, 1}), scaled(22));
}

TEST(PreprocessForTrainTest, ResizesToThePrecropFirst) {
  Image flat{3, 5, std::vector<uint8_t>(45, 77)};
  const Tensor t = preprocess_for_train(flat, {8, 6}, {2, 0, false});
  ASSERT_EQ(t.shape(), Shape({3, 6, 6}));
  for (float v : t.to_vector<float>()) EXPECT_FLOAT_EQ(v, scaled(77));
  EXPECT_TRUE(testing::throws_error(
      [&] { preprocess_for_train(flat, {8, 6}, {3, 0, false}); }, {"crop window", "(3, 0)"}));
}

TEST(DrawAugmentationTest, CoversEveryWindowAndBothFlips) {
  Generator generator(7);
  std::set<int64_t> tops, lefts;
  int flips = 0;
  constexpr int kDraws = 2000;
  for (int i = 0; i < kDraws; ++i) {
    const Augmentation a = draw_augmentation({160, 128}, 28, 28, generator);
    tops.insert(a.top);
    lefts.insert(a.left);
    flips += a.flip;
  }
  EXPECT_EQ(*tops.begin(), 0);
  EXPECT_EQ(*tops.rbegin(), 32);
  EXPECT_EQ(tops.size(), 33u);
  EXPECT_EQ(lefts.size(), 33u);
  EXPECT_NEAR(flips, kDraws / 2, 150);  // about 7 standard deviations
}

TEST(DrawAugmentationTest, AShiftLetsTheWindowReachPastEveryEdge) {
  Generator generator(3);
  std::set<int64_t> tops, lefts;
  for (int i = 0; i < 2000; ++i) {
    const Augmentation a =
        draw_augmentation({.precrop = 32, .crop = 32, .shift = 4}, 28, 28, generator);
    tops.insert(a.top);
    lefts.insert(a.left);
  }
  EXPECT_EQ(*tops.begin(), -4);
  EXPECT_EQ(*tops.rbegin(), 4);
  EXPECT_EQ(tops.size(), 9u);
  EXPECT_EQ(lefts.size(), 9u);
}

TEST(PreprocessForTrainTest, AShiftedWindowReadsBlackOutsideTheImage) {
  const Resolution resolution{.precrop = 4, .crop = 4, .shift = 1};
  // One row up and one column right: row 0 and column 3 of the window are outside.
  const Tensor t = preprocess_for_train(grid4(), resolution, {-1, 1, false});
  ASSERT_EQ(t.shape(), Shape({3, 4, 4}));
  EXPECT_FLOAT_EQ(t.at<float>({0, 0, 0}), -1.0f);
  EXPECT_FLOAT_EQ(t.at<float>({1, 0, 2}), -1.0f);
  EXPECT_FLOAT_EQ(t.at<float>({0, 1, 0}), scaled(1));   // image (0, 1)
  EXPECT_FLOAT_EQ(t.at<float>({0, 3, 2}), scaled(23));  // image (2, 3)
  EXPECT_FLOAT_EQ(t.at<float>({2, 2, 3}), -1.0f);
  // Flipped, the window's column 0 reads image column 1 + 3 = 4: outside.
  const Tensor flipped = preprocess_for_train(grid4(), resolution, {0, 1, true});
  EXPECT_FLOAT_EQ(flipped.at<float>({0, 0, 0}), -1.0f);
  EXPECT_FLOAT_EQ(flipped.at<float>({0, 0, 1}), scaled(3));
  EXPECT_TRUE(testing::throws_error(
      [&] { preprocess_for_train(grid4(), resolution, {0, 2, false}); }, {"(0, 2)", "shift 1"}));
}

// Every window the train path can take of random images, flipped or not and reaching past the
// edges, against its definition pixel by pixel: channel c of window pixel (y, x) is the image's
// pixel (top + y, left + x) (left + crop - 1 - x when flipped), black outside the image.
TEST(PreprocessForTrainTest, WindowsMatchTheirDefinitionPixelByPixel) {
  Generator generator(5);
  for (const auto& [size, crop, shift] :
       std::vector<std::tuple<int64_t, int64_t, int64_t>>{{7, 5, 0}, {9, 9, 3}, {6, 3, 4}}) {
    Image image{size, size, std::vector<uint8_t>(static_cast<size_t>(size * size * 3))};
    for (uint8_t& v : image.pixels) v = static_cast<uint8_t>(generator.randint(256));
    const Resolution resolution{.precrop = size, .crop = crop, .shift = shift};
    for (int64_t top = -shift; top <= size - crop + shift; ++top) {
      for (int64_t left = -shift; left <= size - crop + shift; ++left) {
        for (bool flip : {false, true}) {
          const Tensor t = preprocess_for_train(image, resolution, {top, left, flip});
          for (int64_t c = 0; c < 3; ++c)
            for (int64_t y = 0; y < crop; ++y)
              for (int64_t x = 0; x < crop; ++x) {
                const int64_t sy = top + y, sx = left + (flip ? crop - 1 - x : x);
                const bool inside = 0 <= sy && sy < size && 0 <= sx && sx < size;
                ASSERT_EQ(t.at<float>({c, y, x}), scaled(inside ? image.at(sy, sx, c) : 0))
                    << "window at (" << top << ", " << left << "), flip " << flip << ", pixel ("
                    << y << ", " << x << "), channel " << c;
              }
        }
      }
    }
  }
}

TEST(DrawAugmentationTest, InceptionBoxesStayInsideWithTheirAreaAndRatioInBounds) {
  Generator generator(5);
  const Resolution resolution{.precrop = 16, .crop = 16, .min_box_area = kInceptionMinBoxArea};
  constexpr int64_t kHeight = 40, kWidth = 30, kDraws = 3000;
  double smallest = 1, largest = 0;
  int64_t widest = 0;
  std::set<int64_t> tops;
  int flips = 0;
  for (int i = 0; i < kDraws; ++i) {
    const Augmentation a = draw_augmentation(resolution, kHeight, kWidth, generator);
    ASSERT_GE(a.top, 0);
    ASSERT_GE(a.left, 0);
    ASSERT_LE(a.top + a.box_height, kHeight);
    ASSERT_LE(a.left + a.box_width, kWidth);
    // Rounding each side to whole pixels moves the area and ratio a little past the bounds.
    const double area = static_cast<double>(a.box_height * a.box_width) / (kHeight * kWidth);
    const double ratio = static_cast<double>(a.box_width) / a.box_height;
    ASSERT_GE(area, 0.06) << a.box_height << "x" << a.box_width;
    ASSERT_GE(ratio, 0.75 * 0.85) << a.box_height << "x" << a.box_width;
    ASSERT_LE(ratio, 4.0 / 3 / 0.85) << a.box_height << "x" << a.box_width;
    smallest = std::min(smallest, area);
    largest = std::max(largest, area);
    widest = std::max(widest, a.box_width);
    tops.insert(a.top);
    flips += a.flip;
  }
  EXPECT_LT(smallest, 0.1);
  EXPECT_GT(largest, 0.7);  // a square box of all 30 columns is 0.75 of the image
  EXPECT_EQ(widest, kWidth);  // a box may span every column
  EXPECT_GE(tops.size(), 30u);  // the smallest boxes, 8 or 9 rows, may start at rows 0 to 32
  EXPECT_NEAR(flips, kDraws / 2, 200);  // about 7 standard deviations
}

TEST(DrawAugmentationTest, InceptionFallsBackToTheLargestCentredBoxInBounds) {
  // No box of the whole area with a ratio in [3/4, 4/3] fits a 10 x 40 image: the fallback is
  // the full height, 4/3 of it wide, centred.
  Generator generator(1);
  const Augmentation a =
      draw_augmentation({.precrop = 8, .crop = 8, .min_box_area = 1.0}, 10, 40, generator);
  EXPECT_EQ(a.box_height, 10);
  EXPECT_EQ(a.box_width, 13);
  EXPECT_EQ(a.top, 0);
  EXPECT_EQ(a.left, 13);
  // And a 40 x 10 image: the full width, 4/3 of it tall, centred.
  const Augmentation tall =
      draw_augmentation({.precrop = 8, .crop = 8, .min_box_area = 1.0}, 40, 10, generator);
  EXPECT_EQ(tall.box_height, 13);
  EXPECT_EQ(tall.box_width, 10);
  EXPECT_EQ(tall.top, 13);
  EXPECT_EQ(tall.left, 0);
}

TEST(DrawAugmentationTest, BadResolutionsAndImagesAreNamed) {
  Generator generator(1);
  auto draw = [&](const Resolution& resolution, int64_t height, int64_t width) {
    return [=, &generator] { draw_augmentation(resolution, height, width, generator); };
  };
  using testing::throws_error;
  EXPECT_TRUE(throws_error(draw({8, 9}, 4, 4), {"crop 9", "[1, precrop 8]"}));
  EXPECT_TRUE(throws_error(draw({8, 0}, 4, 4), {"crop 0", "[1, precrop 8]"}));
  EXPECT_TRUE(throws_error(draw({.precrop = 8, .crop = 8, .shift = -1}, 4, 4),
                           {"negative shift -1"}));
  EXPECT_TRUE(throws_error(draw({.precrop = 8, .crop = 8, .min_box_area = 1.5}, 4, 4),
                           {"minimum box area 1.5", "[0, 1]"}));
  EXPECT_TRUE(throws_error(draw({.precrop = 8, .crop = 8, .min_box_area = -0.5}, 4, 4),
                           {"minimum box area -0.5"}));
  EXPECT_TRUE(throws_error(draw({8, 8}, 0, 4), {"empty image 0x4"}));
  EXPECT_TRUE(throws_error(draw({8, 8}, 4, 0), {"empty image 4x0"}));
}

TEST(PreprocessForTrainTest, AnInceptionBoxIsResizedToTheCropAndFlipped) {
  const Resolution resolution{.precrop = 2, .crop = 2, .min_box_area = kInceptionMinBoxArea};
  // A 2 x 2 box at (1, 2): the crop's own size, so its pixels unchanged.
  Augmentation box{.top = 1, .left = 2, .box_height = 2, .box_width = 2};
  const Tensor plain = preprocess_for_train(grid4(), resolution, box);
  ASSERT_EQ(plain.shape(), Shape({3, 2, 2}));
  EXPECT_FLOAT_EQ(plain.at<float>({0, 0, 0}), scaled(12));
  EXPECT_FLOAT_EQ(plain.at<float>({0, 1, 1}), scaled(23));
  box.flip = true;
  EXPECT_FLOAT_EQ(preprocess_for_train(grid4(), resolution, box).at<float>({0, 0, 0}),
                  scaled(13));
  // The whole image as the box: the eval path's squash.
  const Augmentation whole{.box_height = 4, .box_width = 4};
  EXPECT_EQ(preprocess_for_train(grid4(), resolution, whole).to_vector<float>(),
            preprocess_for_eval(grid4(), 2).to_vector<float>());
  const Augmentation outside{.top = 3, .box_height = 2, .box_width = 2};
  EXPECT_TRUE(testing::throws_error([&] { preprocess_for_train(grid4(), resolution, outside); },
                                    {"box 2x2 at (3, 0)", "4x4 image"}));
}

// A 2 x 6 image whose every channel is 10 * column.
Image column_ramp() {
  Image image{2, 6, {}};
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 6; ++x)
      for (int c = 0; c < 3; ++c) image.pixels.push_back(static_cast<uint8_t>(10 * x));
  return image;
}

TEST(PreprocessForEvalTest, SquashesTheWholeImageWithoutCropping) {
  // 6 columns onto 4: output column j samples source x = (j + 0.5) * 1.5 - 0.5 = 0.25, 1.75,
  // 3.25, 4.75, i.e. 2.5, 17.5, 32.5, 47.5, rounded half to even. A centre crop would start at
  // column 2 (value 20) instead of reaching the edges.
  const Tensor t = preprocess_for_eval(column_ramp(), 4);
  ASSERT_EQ(t.shape(), Shape({3, 4, 4}));
  const float expected[4] = {2, 18, 32, 48};
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) {
        EXPECT_FLOAT_EQ(t.at<float>({c, y, x}), expected[x] / 127.5f - 1.0f) << c << y << x;
      }
}

TEST(PreprocessForEvalTest, ScalesPixelsToMinusOneOne) {
  Image image{1, 1, {0, 255, 51}};
  const Tensor t = preprocess_for_eval(image, 1);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{-1.0f, 1.0f, 51 / 127.5f - 1.0f}));
  const Tensor up = preprocess_for_eval(image, 3);  // a constant image stays constant
  for (int i = 0; i < 9; ++i) EXPECT_FLOAT_EQ(up.to_vector<float>()[i], -1.0f);
}

}  // namespace
}  // namespace bitgrad
