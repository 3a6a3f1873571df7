#include "data/image_set.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::fails_naming;

// Three 1x2 gray images: pixel values 10i and 10i + 1; labels 0, 1, 0.
ImageSet gray_set() {
  ImageSet set;
  set.source = "gray.bin";
  set.pixels = from_vector<uint8_t>({0, 1, 10, 11, 20, 21}, {3, 1, 2, 1});
  set.labels = {0, 1, 0};
  set.class_names = {"a", "b"};
  return set;
}

// What a resumed run compares with its checkpoint's: any pixel, label or file name changed
// changes it, including a pixel past the last whole 8-byte word.
TEST(ImageSetTest, TheFingerprintSeesEveryPixelLabelAndFileName) {
  ImageSet pixels;
  pixels.source = "pixels.npz";
  pixels.pixels = empty({3, 3, 3, 1}, DType::kUInt8);  // 27 bytes: 3 words and 3 bytes
  for (int64_t i = 0; i < 27; ++i) pixels.pixels.mutable_data<uint8_t>()[i] = 3 * i;
  pixels.labels = {0, 1, 0};
  const uint64_t original = pixels.fingerprint();
  EXPECT_EQ(pixels.subset({0, 1, 2}).fingerprint(), original);
  for (int64_t i = 0; i < 27; ++i) {
    ImageSet changed = pixels.subset({0, 1, 2});
    changed.pixels.mutable_data<uint8_t>()[i] ^= 0x80;
    EXPECT_NE(changed.fingerprint(), original) << "byte " << i;
  }
  ImageSet relabelled = pixels.subset({0, 1, 2});
  relabelled.labels[2] = 1;
  EXPECT_NE(relabelled.fingerprint(), original);
  EXPECT_NE(pixels.subset({1, 0, 2}).fingerprint(), original);

  ImageSet files;
  files.source = "/data/set";
  files.files = {"/data/set/a/1.png", "/data/set/b/2.png"};
  files.labels = {0, 1};
  ImageSet moved = files;  // the same folder elsewhere
  moved.source = "/elsewhere/set";
  moved.files = {"/elsewhere/set/a/1.png", "/elsewhere/set/b/2.png"};
  EXPECT_EQ(moved.fingerprint(), files.fingerprint());
  ImageSet renamed = files;
  renamed.files[1] = "/data/set/b/3.png";
  EXPECT_NE(renamed.fingerprint(), files.fingerprint());
  // The names are hashed apart: "a/1.png", "b/2.png" is not "a/1.pngb/2", ".png".
  ImageSet split_elsewhere = files;
  split_elsewhere.files = {"/data/set/a/1.pngb/2", "/data/set/.png"};
  EXPECT_NE(split_elsewhere.fingerprint(), files.fingerprint());
}

TEST(ImageSetTest, GrayIsReplicatedToRgb) {
  absl::StatusOr<Image> image = gray_set().image(1);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->height, 1);
  EXPECT_EQ(image->width, 2);
  EXPECT_EQ(image->pixels, (std::vector<uint8_t>{10, 10, 10, 11, 11, 11}));
  EXPECT_EQ(gray_set().name(2), "gray.bin[2]");
}

TEST(ImageSetTest, SubsetKeepsTheGivenOrder) {
  const ImageSet sub = gray_set().subset({2, 0});
  EXPECT_EQ(sub.labels, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(sub.pixels.shape(), Shape({2, 1, 2, 1}));
  EXPECT_EQ(sub.pixels.to_vector<uint8_t>(), (std::vector<uint8_t>{20, 21, 0, 1}));
  EXPECT_EQ(sub.class_names.size(), 2u);
}

TEST(ImageSetTest, CheckNamesTheSourceAndTheProblem) {
  EXPECT_TRUE(check_image_set(gray_set()).ok());
  ImageSet bad_label = gray_set();
  bad_label.labels[1] = 2;
  EXPECT_TRUE(fails_naming(check_image_set(bad_label), {"gray.bin[1]", "label 2", "[0, 2)"}));
  ImageSet short_labels = gray_set();
  short_labels.labels.pop_back();
  EXPECT_TRUE(fails_naming(check_image_set(short_labels), {"gray.bin", "3 images but 2 labels"}));
  ImageSet two_channels = gray_set();
  two_channels.pixels = zeros({3, 1, 1, 2}, DType::kUInt8);
  EXPECT_TRUE(fails_naming(check_image_set(two_channels), {"gray.bin", "(3, 1, 1, 2)"}));
  ImageSet floats = gray_set();
  floats.pixels = zeros({3, 1, 2, 1});
  EXPECT_TRUE(fails_naming(check_image_set(floats), {"gray.bin", "expected uint8 images"}));
  ImageSet negative_label = gray_set();
  negative_label.labels[0] = -1;
  EXPECT_TRUE(
      fails_naming(check_image_set(negative_label), {"gray.bin[0]", "label -1", "[0, 2)"}));
  ImageSet empty = gray_set();
  empty.pixels = zeros({0, 1, 2, 1}, DType::kUInt8);
  empty.labels.clear();
  EXPECT_TRUE(fails_naming(check_image_set(empty), {"gray.bin", "no images"}));
}

// A set of image files of one class.
ImageSet files_of_one_class(const std::vector<std::string>& files) {
  ImageSet set;
  set.source = "folder";
  set.files = files;
  set.labels.assign(files.size(), 0);
  set.class_names = {"x"};
  return set;
}

TEST(ImageSetTest, FilesAreDecodedOnDemand) {
  const ImageSet set = files_of_one_class({"tests/data/testdata/gray8.png", "/nonexistent.png"});
  absl::StatusOr<std::pair<int64_t, int64_t>> size = set.first_image_size();
  ASSERT_TRUE(size.ok()) << size.status();
  EXPECT_GT(size->first, 0);
  EXPECT_TRUE(fails_naming(set.image(1).status(), {"/nonexistent.png"}));
  ImageSet short_labels = set;
  short_labels.labels.pop_back();
  EXPECT_TRUE(fails_naming(check_image_set(short_labels), {"folder", "2 files but 1 labels"}));
  EXPECT_TRUE(fails_naming(files_of_one_class({}).first_image_size().status(),
                           {"folder", "no images"}));
}

// A subset's images have the size of its parent's first image, whichever examples it holds:
// the HyperRule's resolution of a few-shot draw from a folder of mixed sizes does not depend on
// the seed that drew it.
TEST(ImageSetTest, ASubsetHasItsParentsImageSize) {
  const ImageSet set = files_of_one_class(
      {"tests/data/testdata/gray8.png", "tests/data/testdata/smooth32.png"});
  const auto size_of = [](const ImageSet& s) {
    absl::StatusOr<std::pair<int64_t, int64_t>> size = s.first_image_size();
    EXPECT_TRUE(size.ok()) << size.status();
    return size.ok() ? *size : std::make_pair(int64_t{0}, int64_t{0});
  };
  const std::pair<int64_t, int64_t> first = size_of(set);
  ASSERT_NE(first, std::make_pair(int64_t{32}, int64_t{32}));  // the files differ in size
  EXPECT_EQ(size_of(set.subset({1})), first);
  EXPECT_EQ(size_of(set.subset({1, 0}).subset({0})), first);  // a subset of a subset too
}

}  // namespace
}  // namespace bitgrad
