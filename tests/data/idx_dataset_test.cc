#include "data/idx_dataset.h"

#include "gtest/gtest.h"
#include "tests/data/idx_bytes.h"
#include "tests/data/temp_files.h"

namespace bitgrad {
namespace {

// A gzipped file TempDir()/name.
std::string write_gz(const std::string& name, const std::string& bytes) {
  return testing::write_gz_file(::testing::TempDir() + "/" + name, bytes);
}

using testing::idx_images_file;
using testing::idx_labels_file;

TEST(IdxDatasetTest, ReadsImagesAndLabels) {
  const std::string pixels("\x01\x02\x03\x04\x05\x06\xff\x00\x07\x08\x09\x0a", 12);
  std::string images = write_gz("i.gz", idx_images_file(2, 2, 3, pixels));
  std::string labels = write_gz("l.gz", idx_labels_file("\x03\x09"));
  absl::StatusOr<LabeledImages> data = read_idx_dataset(images, labels);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->images.shape(), Shape({2, 2, 3}));
  EXPECT_EQ(data->images.at<uint8_t>({1, 0, 0}), 255);
  EXPECT_EQ(data->images.at<uint8_t>({1, 1, 2}), 10);
  EXPECT_EQ(data->labels.to_vector<int64_t>(), std::vector<int64_t>({3, 9}));
}

TEST(IdxDatasetTest, BadFilesAreNamed) {
  std::string labels = write_gz("l2.gz", idx_labels_file("\x01"));
  std::string truncated = write_gz("trunc.gz", idx_images_file(1, 2, 2, "\x01\x02"));
  absl::StatusOr<LabeledImages> a = read_idx_dataset(truncated, labels);
  EXPECT_NE(a.status().message().find("trunc.gz is truncated"), std::string::npos) << a.status();

  std::string swapped = write_gz("swapped.gz", idx_labels_file("\x01"));
  absl::StatusOr<LabeledImages> b = read_idx_dataset(swapped, labels);
  EXPECT_NE(b.status().message().find("swapped.gz is not an IDX file"), std::string::npos)
      << b.status();

  std::string two = write_gz("two.gz", idx_images_file(2, 1, 1, "\x01\x02"));
  absl::StatusOr<LabeledImages> c = read_idx_dataset(two, labels);
  EXPECT_NE(c.status().message().find("2 images"), std::string::npos) << c.status();

  absl::StatusOr<LabeledImages> d = read_idx_dataset("/nonexistent/x.gz", labels);
  EXPECT_TRUE(absl::IsNotFound(d.status()));
  EXPECT_NE(load_fashion_mnist("val").status().message().find("\"val\""), std::string::npos);
  EXPECT_NE(load_fashion_mnist("test", "/nonexistent")
                .status()
                .message()
                .find("dataset-fashion-mnist"),
            std::string::npos);
}

// gzread reads uncompressed files too; their declared size is checked against the file's before
// allocating.
TEST(IdxDatasetTest, ReadsUncompressedFilesAndChecksTheirSize) {
  const std::string dir = testing::fresh_temp_dir("idx_plain");
  const std::string labels = testing::write_file(dir + "/labels", idx_labels_file("\x04"));
  const std::string images =
      testing::write_file(dir + "/images", idx_images_file(1, 2, 2, "\x01\x02\x03\x04"));
  absl::StatusOr<LabeledImages> data = read_idx_dataset(images, labels);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->images.to_vector<uint8_t>(), (std::vector<uint8_t>{1, 2, 3, 4}));
  EXPECT_EQ(data->labels.to_vector<int64_t>(), std::vector<int64_t>({4}));
  const std::string cut = testing::write_file(dir + "/cut", idx_images_file(1, 2, 2, "\x01\x02"));
  absl::StatusOr<LabeledImages> truncated = read_idx_dataset(cut, labels);
  EXPECT_NE(truncated.status().message().find("header declares 4 bytes of data, the file holds 2"),
            std::string::npos)
      << truncated.status();
}

// Debian's dataset-fashion-mnist, installed by setup.sh: 60000 + 10000 images, balanced classes.
TEST(IdxDatasetTest, FashionMnistFromDebian) {
  absl::StatusOr<LabeledImages> train = load_fashion_mnist("train");
  if (!train.ok() && absl::IsNotFound(train.status())) GTEST_SKIP() << train.status();
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->images.shape(), Shape({60000, 28, 28}));
  std::vector<int64_t> counts(10, 0);
  for (int64_t label : train->labels.to_vector<int64_t>()) counts.at(label)++;
  for (int64_t count : counts) EXPECT_EQ(count, 6000);
  absl::StatusOr<LabeledImages> test = load_fashion_mnist("test");
  ASSERT_TRUE(test.ok()) << test.status();
  EXPECT_EQ(test->images.shape(), Shape({10000, 28, 28}));
}

}  // namespace
}  // namespace bitgrad
