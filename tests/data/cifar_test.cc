#include "data/cifar.h"

#include "gtest/gtest.h"
#include "tests/data/temp_files.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::fails_naming;
using testing::fresh_temp_dir;
using testing::write_file;

// One record: the label bytes, then the R, G and B planes; pixel p of plane c is
// (c * 50 + p) % 256.
std::string record(const std::string& labels) {
  std::string bytes = labels;
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < 1024; ++p) bytes.push_back(static_cast<char>((c * 50 + p) % 256));
  return bytes;
}

TEST(CifarTest, ReadsCifar10RecordsIntoHwcPixels) {
  const std::string dir = fresh_temp_dir("cifar10");
  const std::string a = write_file(dir + "/a.bin", record("\x07") + record("\x02"));
  const std::string b = write_file(dir + "/b.bin", record("\x09"));
  absl::StatusOr<ImageSet> set = read_cifar_files(CifarKind::kCifar10, {a, b});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->labels, (std::vector<int64_t>{7, 2, 9}));
  EXPECT_EQ(set->pixels.shape(), Shape({3, 32, 32, 3}));
  // Pixel (y, x) = (1, 2) is p = 34: channels 34, 84, 134.
  EXPECT_EQ(set->pixels.at<uint8_t>({2, 1, 2, 0}), 34);
  EXPECT_EQ(set->pixels.at<uint8_t>({2, 1, 2, 1}), 84);
  EXPECT_EQ(set->pixels.at<uint8_t>({2, 1, 2, 2}), 134);
  EXPECT_EQ(set->num_classes(), 10);
}

// A CIFAR-10 folder: the train set is data_batch_1.bin to data_batch_5.bin in that order, the
// names are batches.meta.txt's.
TEST(CifarTest, Cifar10ReadsAllFiveTrainBatchesAndItsNames) {
  const std::string dir = fresh_temp_dir("cifar10_folder");
  for (int i = 1; i <= 5; ++i) {
    write_file(dir + "/data_batch_" + std::to_string(i) + ".bin",
               record(std::string(1, static_cast<char>(i))));
  }
  write_file(dir + "/test_batch.bin", record(std::string(1, '\0')) + record("\x08"));
  std::string names;
  for (int i = 0; i < 10; ++i) names += "name" + std::to_string(i) + "\n";
  write_file(dir + "/batches.meta.txt", names + "\n");
  absl::StatusOr<Dataset> data = load_cifar(CifarKind::kCifar10, dir);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train.labels, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(data->test.labels, (std::vector<int64_t>{0, 8}));
  ASSERT_EQ(data->train.num_classes(), 10);
  EXPECT_EQ(data->train.class_names[3], "name3");
  EXPECT_EQ(data->test.class_names[9], "name9");
}

TEST(CifarTest, Cifar100UsesTheFineLabelAndItsNames) {
  const std::string dir = fresh_temp_dir("cifar100");
  write_file(dir + "/train.bin", record(std::string("\x03\x63", 2)) + record("\x01\x05"));
  write_file(dir + "/test.bin", record(std::string("\x00\x2a", 2)));
  std::string names;
  for (int i = 0; i < 100; ++i) names += "class" + std::to_string(i) + "\n";
  write_file(dir + "/fine_label_names.txt", names + "\n\n");  // the real file ends in blank lines
  absl::StatusOr<Dataset> data = load_cifar(CifarKind::kCifar100, dir);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train.labels, (std::vector<int64_t>{99, 5}));
  EXPECT_EQ(data->test.labels, (std::vector<int64_t>{42}));
  ASSERT_EQ(data->test.num_classes(), 100);
  EXPECT_EQ(data->test.class_names[42], "class42");
}

TEST(CifarTest, BadFilesAreNamed) {
  const std::string dir = fresh_temp_dir("cifar_bad");
  const std::string cut = write_file(dir + "/cut.bin", record("\x01").substr(0, 3000));
  EXPECT_TRUE(fails_naming(read_cifar_files(CifarKind::kCifar10, {cut}).status(),
                           {"cut.bin", "3000 bytes", "3073-byte CIFAR-10 records"}));
  const std::string empty = write_file(dir + "/empty.bin", "");
  EXPECT_TRUE(fails_naming(read_cifar_files(CifarKind::kCifar10, {empty}).status(),
                           {"empty.bin", "0 bytes is not a whole number"}));
  const std::string label = write_file(dir + "/label.bin", record("\x01") + record("\x0a"));
  EXPECT_TRUE(fails_naming(read_cifar_files(CifarKind::kCifar10, {label}).status(),
                           {"label.bin", "record 1", "label 10", "0 to 9"}));
  EXPECT_TRUE(fails_naming(read_cifar_files(CifarKind::kCifar10, {dir + "/none.bin"}).status(),
                           {"none.bin", "cannot open"}));
  EXPECT_TRUE(fails_naming(load_cifar(CifarKind::kCifar10, dir).status(),
                           {dir, "no data_batch_1.bin in it or in cifar-10-batches-bin/",
                            "binary version (cifar-10-binary.tar.gz"}));
  write_file(dir + "/train.bin", record(std::string("\x00\x01", 2)));
  write_file(dir + "/test.bin", record(std::string("\x00\x01", 2)));
  write_file(dir + "/fine_label_names.txt", "a\nb\n");
  EXPECT_TRUE(fails_naming(load_cifar(CifarKind::kCifar100, dir).status(),
                           {"fine_label_names.txt", "2 class names, expected 100"}));
}

// The folder the archive extracts to may be given, or the one above it.
TEST(CifarTest, FindsTheArchivesFolderBelowTheOneGiven) {
  const std::string dir = fresh_temp_dir("cifar100_parent");
  write_file(dir + "/cifar-100-binary/train.bin", record(std::string("\x03\x07", 2)));
  write_file(dir + "/cifar-100-binary/test.bin", record(std::string("\x00\x2a", 2)));
  absl::StatusOr<Dataset> data = load_cifar(CifarKind::kCifar100, dir);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train.labels, (std::vector<int64_t>{7}));
  EXPECT_EQ(data->test.source, dir + "/cifar-100-binary/test.bin");
}

// What users point --dataset at by mistake is named: the Python version, the other CIFAR.
TEST(CifarTest, TheWrongFolderSaysWhatItHolds) {
  EXPECT_TRUE(fails_naming(load_cifar(CifarKind::kCifar10, "/nonexistent/cifar").status(),
                           {"/nonexistent/cifar: no such folder"}));
  const std::string python = fresh_temp_dir("cifar_python");
  write_file(python + "/data_batch_1", "pickled");
  EXPECT_TRUE(fails_naming(load_cifar(CifarKind::kCifar10, python).status(),
                           {python, "data_batch_1", "Python version",
                            "binary version (cifar-10-binary.tar.gz, which extracts to "
                            "cifar-10-batches-bin/)"}));
  const std::string hundred = fresh_temp_dir("cifar_other");
  write_file(hundred + "/cifar-100-binary/train.bin", record(std::string("\x00\x01", 2)));
  EXPECT_TRUE(fails_naming(load_cifar(CifarKind::kCifar10, hundred).status(),
                           {hundred + "/cifar-100-binary: holds CIFAR-100 (train.bin), not "
                            "CIFAR-10; use --dataset=cifar100:" + hundred + "/cifar-100-binary"}));
  const std::string folders = fresh_temp_dir("cifar_folders");  // an image folder's train/
  write_file(folders + "/train/cat/1.png", "x");
  EXPECT_TRUE(fails_naming(load_cifar(CifarKind::kCifar100, folders).status(),
                           {folders, "no train.bin in it or in cifar-100-binary/ below it"}));
  const std::string ten = fresh_temp_dir("cifar_ten");
  write_file(ten + "/data_batch_1.bin", record("\x01"));
  EXPECT_TRUE(fails_naming(load_cifar(CifarKind::kCifar100, ten).status(),
                           {"holds CIFAR-10", "--dataset=cifar10:" + ten}));
}

}  // namespace
}  // namespace bitgrad
