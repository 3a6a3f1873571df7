#include "data/datasets.h"

#include "gtest/gtest.h"
#include "tests/data/idx_bytes.h"
#include "tests/data/temp_files.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::fails_naming;
using testing::fresh_temp_dir;
using testing::write_file;

// An MNIST-layout folder of idx files, gzipped (name.gz) or not, named as MNIST's site names
// them ("-idx3") or as some mirrors do (".idx3"): n images 2 high and 3 wide, labels as given.
std::string mnist_dir(const std::string& name, const std::string& labels, bool gzipped = false,
                      const std::string& separator = "-") {
  const std::string dir = fresh_temp_dir(name);
  const uint32_t n = labels.size();
  for (const std::string prefix : {"train", "t10k"}) {
    const std::string images = testing::idx_images_file(n, 2, 3, std::string(6 * n, '\x80'));
    const std::string label_file = testing::idx_labels_file(labels);
    const std::string image_path = dir + "/" + prefix + "-images" + separator + "idx3-ubyte";
    const std::string label_path = dir + "/" + prefix + "-labels" + separator + "idx1-ubyte";
    if (gzipped) {
      testing::write_gz_file(image_path + ".gz", images);
      testing::write_gz_file(label_path + ".gz", label_file);
    } else {
      write_file(image_path, images);
      write_file(label_path, label_file);
    }
  }
  return dir;
}

TEST(DatasetsTest, FormatNames) {
  const std::pair<std::string, DatasetFormat> names[] = {
      {"mnist", DatasetFormat::kMnist},     {"fashion_mnist", DatasetFormat::kFashionMnist},
      {"cifar10", DatasetFormat::kCifar10}, {"cifar100", DatasetFormat::kCifar100},
      {"folder", DatasetFormat::kImageFolder}, {"npz", DatasetFormat::kKerasNpz}};
  for (const auto& [name, format] : names) {
    absl::StatusOr<DatasetFormat> parsed = parse_dataset_format(name);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, format) << name;
  }
  EXPECT_TRUE(fails_naming(parse_dataset_format("imagenet").status(),
                           {"\"imagenet\"", "mnist, fashion_mnist, cifar10"}));
}

TEST(DatasetsTest, ReadsUncompressedIdxAsGrayImages) {
  const std::string dir = mnist_dir("mnist_plain", std::string("\x09\x00\x03", 3));
  absl::StatusOr<Dataset> data = load_dataset(DatasetFormat::kFashionMnist, dir);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train.pixels.shape(), Shape({3, 2, 3, 1}));
  EXPECT_EQ(data->test.labels, (std::vector<int64_t>{9, 0, 3}));
  EXPECT_EQ(data->train.class_names[9], "Ankle boot");
}

// The test split is read from the t10k files, and checked as the train split is.
TEST(DatasetsTest, TheTestSplitIsT10ksAndIsChecked) {
  const std::string dir = mnist_dir("mnist_splits", "\x01\x02");
  const std::string test_labels = dir + "/t10k-labels-idx1-ubyte";
  write_file(test_labels, testing::idx_labels_file("\x03\x04"));
  absl::StatusOr<Dataset> data = load_dataset(DatasetFormat::kMnist, dir);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train.labels, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(data->test.labels, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(data->test.source, dir + "/t10k-images-idx3-ubyte");
  write_file(test_labels, testing::idx_labels_file("\x03\x0c"));
  EXPECT_TRUE(fails_naming(load_dataset(DatasetFormat::kMnist, dir).status(),
                           {dir + "/t10k-images-idx3-ubyte[1]", "label 12", "[0, 10)"}));
}

// Each format has its own reader: an empty folder is refused in that reader's words.
TEST(DatasetsTest, EachFormatIsReadByItsReader) {
  const std::string dir = fresh_temp_dir("empty_dataset");
  const std::pair<DatasetFormat, std::string> expected[] = {
      {DatasetFormat::kMnist, "train-images-idx3-ubyte"},
      {DatasetFormat::kCifar10, "no data_batch_1.bin"},
      {DatasetFormat::kCifar100, "no train.bin"},
      {DatasetFormat::kImageFolder, "expected train/ and test/"},
      {DatasetFormat::kKerasNpz, "cannot open as .npz"}};
  for (const auto& [format, words] : expected) {
    EXPECT_TRUE(fails_naming(load_dataset(format, dir).status(), {dir, words})) << words;
  }
}

TEST(DatasetsTest, ReadsGzippedIdx) {
  absl::StatusOr<Dataset> data =
      load_dataset(DatasetFormat::kMnist, mnist_dir("mnist_gz", "\x05\x07", /*gzipped=*/true));
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train.labels, (std::vector<int64_t>{5, 7}));
  EXPECT_EQ(data->train.class_names[5], "5");
  EXPECT_EQ(data->train.image(0)->at(1, 1, 2), 0x80);
}

TEST(DatasetsTest, ReadsIdxFilesNamedAsMirrorsNameThem) {
  for (const bool gzipped : {false, true}) {
    const std::string dir = mnist_dir("mnist_dotted", "\x04\x02", gzipped, ".");
    absl::StatusOr<Dataset> data = load_dataset(DatasetFormat::kMnist, dir);
    ASSERT_TRUE(data.ok()) << data.status();
    EXPECT_EQ(data->test.labels, (std::vector<int64_t>{4, 2}));
    EXPECT_EQ(data->train.source,
              dir + "/train-images.idx3-ubyte" + (gzipped ? ".gz" : ""));
  }
  EXPECT_TRUE(fails_naming(load_dataset(DatasetFormat::kMnist, fresh_temp_dir("mnist_none"))
                               .status(),
                           {"train-images-idx3-ubyte"}));
}

TEST(DatasetsTest, ChecksLabelsAgainstTheClasses) {
  const std::string dir = mnist_dir("mnist_label", std::string("\x01\x0c", 2));
  EXPECT_TRUE(fails_naming(load_dataset(DatasetFormat::kMnist, dir).status(),
                           {dir + "/train-images-idx3-ubyte[1]", "label 12", "[0, 10)"}));
  EXPECT_TRUE(fails_naming(load_dataset(DatasetFormat::kMnist, "/nonexistent").status(),
                           {"/nonexistent/train-images-idx3-ubyte"}));
}

// Only an image folder without a split of its own takes a test fraction.
TEST(DatasetsTest, OnlyImageFoldersTakeATestFraction) {
  const std::string dir = mnist_dir("mnist_fraction", "\x05\x07");
  ASSERT_TRUE(load_dataset(DatasetFormat::kMnist, dir, 0).ok());
  EXPECT_TRUE(fails_naming(load_dataset(DatasetFormat::kMnist, dir, 0.2).status(),
                           {"--test_fraction", "folder:DIR", "test split of their own"}));
}

}  // namespace
}  // namespace bitgrad
