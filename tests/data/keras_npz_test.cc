#include "data/keras_npz.h"

#include <filesystem>

#include "data/labels.h"
#include "gtest/gtest.h"
#include "io/npz.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::fails_naming;

std::string write_arrays(const std::string& name, const NamedArrays& arrays) {
  const std::string path = ::testing::TempDir() + "/" + name;
  absl::Status status = write_npz(path, arrays);
  EXPECT_TRUE(status.ok()) << status;
  return path;
}

Tensor images(const Shape& shape) {
  Tensor t = empty(shape, DType::kUInt8);
  for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data<uint8_t>()[i] = static_cast<uint8_t>(i);
  return t;
}

// Images 2 high and 3 wide, so that height and width cannot be mistaken for each other.
TEST(KerasNpzTest, ReadsGrayNhwWithUint8Labels) {
  const std::string path = write_arrays(
      "mnist_like.npz", {{"x_train", images({3, 2, 3})},
                         {"y_train", from_vector<uint8_t>({4, 0, 1}, {3})},
                         {"x_test", images({1, 2, 3})},
                         {"y_test", from_vector<uint8_t>({2}, {1})}});
  absl::StatusOr<Dataset> data = read_keras_npz(path);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train.pixels.shape(), Shape({3, 2, 3, 1}));
  EXPECT_EQ(data->train.pixels.at<uint8_t>({1, 1, 2, 0}), 11);  // 6 per image, 3 per row
  EXPECT_EQ(data->train.labels, (std::vector<int64_t>{4, 0, 1}));
  EXPECT_EQ(data->test.labels, (std::vector<int64_t>{2}));
  EXPECT_EQ(data->train.class_names, (std::vector<std::string>{"0", "1", "2", "3", "4"}));
  EXPECT_EQ(data->test.num_classes(), 5);
}

// A labels file beside the .npz names the classes (bit_finetune's reports then say "cat", not
// "0"); it may name classes no label uses, not fewer than the labels need.
TEST(KerasNpzTest, ALabelsFileBesideItNamesTheClasses) {
  const std::string path = write_arrays(
      "named.npz", {{"x_train", images({2, 2, 2})},
                    {"y_train", from_vector<uint8_t>({1, 0}, {2})},
                    {"x_test", images({1, 2, 2})},
                    {"y_test", from_vector<uint8_t>({1}, {1})}});
  const std::string labels = path.substr(0, path.size() - 4) + ".labels.txt";
  ASSERT_TRUE(write_label_names(labels, {"cat", "dog", "bird"}).ok());
  absl::StatusOr<Dataset> data = read_keras_npz(path);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train.class_names, (std::vector<std::string>{"cat", "dog", "bird"}));
  EXPECT_EQ(data->test.class_names, data->train.class_names);
  ASSERT_TRUE(write_label_names(labels, {"cat"}).ok());
  EXPECT_TRUE(fails_naming(read_keras_npz(path).status(),
                           {labels, "1 class names", "named.npz has labels up to 1"}));
  std::filesystem::remove(labels);
  data = read_keras_npz(path);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train.class_names, (std::vector<std::string>{"0", "1"}));
}

// y_test counted from 1 beside a y_train counted from 0: the class the model never sees is
// named in a note, as is its test images' count; labels of both splits in y_train give none.
TEST(KerasNpzTest, ANoteNamesTheLabelsThatNoTrainingImageHas) {
  const std::string path = write_arrays(
      "shifted.npz", {{"x_train", images({3, 2, 2})},
                      {"y_train", from_vector<uint8_t>({0, 1, 0}, {3})},
                      {"x_test", images({3, 2, 2})},
                      {"y_test", from_vector<uint8_t>({1, 2, 2}, {3})}});
  absl::StatusOr<Dataset> data = read_keras_npz(path);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->notes.size(), 1u);
  EXPECT_NE(data->notes[0].find("shifted.npz:y_train: no image of label(s) 2, so the model "
                                "cannot learn them (y_test has 2 images of them)"),
            std::string::npos)
      << data->notes[0];
  // Gaps: labels no image of either split has, named ten at the most.
  const std::string gaps = write_arrays(
      "gaps.npz", {{"x_train", images({3, 2, 2})},
                   {"y_train", from_vector<uint8_t>({0, 2, 30}, {3})},
                   {"x_test", images({3, 2, 2})},
                   {"y_test", from_vector<uint8_t>({1, 2, 2}, {3})}});
  data = read_keras_npz(gaps);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->notes.size(), 1u);
  EXPECT_NE(data->notes[0].find("gaps.npz:y_train: no image of label(s) 1, 3, 4, 5, 6, 7, 8, 9, "
                                "10, 11 and 18 more, so the model cannot learn them (y_test has 1 "
                                "image of them)"),
            std::string::npos)
      << data->notes[0];
  const std::string covered = write_arrays(
      "covered.npz", {{"x_train", images({3, 2, 2})},
                      {"y_train", from_vector<uint8_t>({0, 2, 1}, {3})},
                      {"x_test", images({3, 2, 2})},
                      {"y_test", from_vector<uint8_t>({1, 2, 2}, {3})}});
  data = read_keras_npz(covered);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_TRUE(data->notes.empty()) << data->notes[0];
}

TEST(KerasNpzTest, ReadsRgbNhwcWithInt64ColumnLabels) {
  const std::string path = write_arrays(
      "cifar_like.npz", {{"x_train", images({2, 2, 2, 3})},
                         {"y_train", from_vector<int64_t>({1, 0}, {2, 1})},
                         {"x_test", images({2, 2, 2, 3})},
                         {"y_test", from_vector<int64_t>({0, 0}, {2, 1})}});
  absl::StatusOr<Dataset> data = read_keras_npz(path);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train.pixels.shape(), Shape({2, 2, 2, 3}));
  EXPECT_EQ(data->train.labels, (std::vector<int64_t>{1, 0}));
  absl::StatusOr<Image> image = data->train.image(1);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->at(0, 0, 0), 12);
}

// Written by numpy (tests/io/testdata/make_npy_fixtures.py): Fortran-order NHW training images,
// int32 labels (N), NHWC test images, big-endian uint16 labels (N, 1).
TEST(KerasNpzTest, ReadsWhatNumpyCodeSaves) {
  absl::StatusOr<Dataset> data = read_keras_npz("tests/io/testdata/keras_numpy_dtypes.npz");
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train.pixels.shape(), Shape({3, 2, 2, 1}));
  EXPECT_EQ(data->train.pixels.at<uint8_t>({2, 1, 0, 0}), 10);  // arange(12).reshape(3, 2, 2)
  EXPECT_EQ(data->train.labels, (std::vector<int64_t>{4, 0, 1}));
  EXPECT_EQ(data->test.pixels.shape(), Shape({1, 2, 2, 3}));
  EXPECT_EQ(data->test.pixels.at<uint8_t>({0, 1, 0, 2}), 8);
  EXPECT_EQ(data->test.labels, (std::vector<int64_t>{2}));
  EXPECT_EQ(data->train.num_classes(), 5);
}

TEST(KerasNpzTest, BadArraysAreNamed) {
  const Tensor x = images({2, 2, 2});
  const Tensor y = from_vector<int64_t>({0, 1}, {2});
  const Tensor class_0 = from_vector<int64_t>({0, 0}, {2});
  EXPECT_TRUE(fails_naming(read_keras_npz(write_arrays("one_class.npz", {{"x_train", x},
                                                                        {"y_train", class_0},
                                                                        {"x_test", x},
                                                                        {"y_test", class_0}}))
                               .status(),
                           {"one_class.npz", "every label", "is 0", "two or more"}));
  EXPECT_TRUE(fails_naming(
      read_keras_npz(write_arrays("no_test.npz", {{"x_train", x}, {"y_train", y}})).status(),
      {"no_test.npz", "no array 'x_test'"}));
  EXPECT_TRUE(fails_naming(
      read_keras_npz(write_arrays("float_x.npz", {{"x_train", zeros({2, 2, 2})},
                                                  {"y_train", y}, {"x_test", x}, {"y_test", y}}))
          .status(),
      {"float_x.npz:x_train", "float32 ('<f4') (2, 2, 2)", "expected uint8 images"}));
  EXPECT_TRUE(fails_naming(
      read_keras_npz(write_arrays("count.npz", {{"x_train", x},
                                                {"y_train", from_vector<int64_t>({0}, {1})},
                                                {"x_test", x}, {"y_test", y}}))
          .status(),
      {"count.npz:y_train", "shape (1)", "expected (2) or (2, 1)"}));
  EXPECT_TRUE(fails_naming(
      read_keras_npz(write_arrays("float_y.npz", {{"x_train", x}, {"y_train", zeros({2})},
                                                  {"x_test", x}, {"y_test", y}}))
          .status(),
      {"float_y.npz:y_train", "'<f4'", "expected integer labels"}));
  EXPECT_TRUE(fails_naming(
      read_keras_npz(write_arrays("negative.npz",
                                  {{"x_train", x}, {"y_train", y}, {"x_test", x},
                                   {"y_test", from_vector<int64_t>({0, -3}, {2})}}))
          .status(),
      {"negative.npz:y_test", "label -3 at index 1"}));
  // A stray huge label (a sentinel, an id) is not taken for the last of 2^40 classes.
  EXPECT_TRUE(fails_naming(
      read_keras_npz(write_arrays("huge.npz",
                                  {{"x_train", x},
                                   {"y_train", from_vector<int64_t>({int64_t{1} << 40, 0}, {2})},
                                   {"x_test", x}, {"y_test", y}}))
          .status(),
      {"huge.npz:y_train", "label 1099511627776 at index 0", "at most 1000000"}));
  const std::vector<int64_t> largest = {kMaxKerasClasses - 1, 0};
  EXPECT_TRUE(read_keras_npz(write_arrays("largest.npz",
                                          {{"x_train", x},
                                           {"y_train", from_vector<int64_t>(largest, {2})},
                                           {"x_test", x}, {"y_test", y}}))
                  .ok());
  EXPECT_TRUE(
      fails_naming(read_keras_npz("/nonexistent/data.npz").status(), {"/nonexistent/data.npz"}));
}

// Just outside what Keras saves: images of 2 channels or of no width, labels in 2 columns, -1 (a
// common "no label") and kMaxKerasClasses.
TEST(KerasNpzTest, ArraysJustOutsideTheFormatAreNamed) {
  const auto read_train = [](const std::string& name, const Tensor& x, const Tensor& y) {
    return read_keras_npz(write_arrays(name, {{"x_train", x},
                                              {"y_train", y},
                                              {"x_test", images({2, 2, 2})},
                                              {"y_test", from_vector<int64_t>({0, 1}, {2})}}))
        .status();
  };
  const Tensor x = images({2, 2, 2});
  const Tensor y = from_vector<int64_t>({0, 1}, {2});
  EXPECT_TRUE(fails_naming(read_train("two_channels.npz", images({2, 2, 2, 2}), y),
                           {"two_channels.npz:x_train", "shape (2, 2, 2, 2)", "C = 1 or 3"}));
  EXPECT_TRUE(fails_naming(read_train("rows.npz", images({2, 4}), y),
                           {"rows.npz:x_train", "shape (2, 4)", "expected uint8 images"}));
  EXPECT_TRUE(fails_naming(read_train("columns.npz", x, from_vector<int64_t>({0, 1, 1, 0}, {2, 2})),
                           {"columns.npz:y_train", "shape (2, 2)", "expected (2) or (2, 1)"}));
  EXPECT_TRUE(fails_naming(read_train("minus_one.npz", x, from_vector<int64_t>({0, -1}, {2})),
                           {"minus_one.npz:y_train", "label -1 at index 1", "negative"}));
  EXPECT_TRUE(fails_naming(
      read_train("max.npz", x, from_vector<int64_t>({kMaxKerasClasses, 0}, {2})),
      {"max.npz:y_train", "label 1000000 at index 0", "at most 1000000"}));
}

}  // namespace
}  // namespace bitgrad
