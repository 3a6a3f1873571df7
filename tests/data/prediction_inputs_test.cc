#include "data/prediction_inputs.h"

#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "data/labels.h"
#include "gtest/gtest.h"
#include "io/npy.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::fails_naming;

std::string testdata(const std::string& name) { return "tests/data/testdata/" + name; }
std::string temp_path(const std::string& name) { return ::testing::TempDir() + "/" + name; }

std::string write_temp(const std::string& name, const std::string& bytes) {
  const std::string path = temp_path(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

TEST(PredictionInputsTest, ImagesAreDecodedAndResizedPerBatch) {
  const std::string spec = testdata("rgb8.png") + ", " + testdata("rgb.jpg");
  auto inputs = PredictionInputs::open(spec, 16);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  EXPECT_EQ(inputs->size(), 2);
  EXPECT_EQ(inputs->name(1), testdata("rgb.jpg"));
  EXPECT_EQ(inputs->description(), "2 image file(s), resized to 16x16");
  EXPECT_TRUE(inputs->warnings().empty());
  auto batch = inputs->batch(0, 2);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->shape(), Shape({2, 3, 16, 16}));
  for (int i = 0; i < 2; ++i) {
    auto image = read_image(inputs->name(i));
    ASSERT_TRUE(image.ok());
    const std::vector<float> one = preprocess_for_eval(*image, 16).to_vector<float>();
    const std::vector<float> all = batch->to_vector<float>();
    EXPECT_EQ(std::vector<float>(all.begin() + i * one.size(), all.begin() + (i + 1) * one.size()),
              one);
  }
  auto second = inputs->batch(1, 2);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->shape(), Shape({1, 3, 16, 16}));
}

TEST(PredictionInputsTest, JpegsAreDecodedNoLargerThanTheResolution) {
  const std::string jpeg = testdata("rgb.jpg");  // 13x17: decoded at 4x5 (1/4 scale) for 4x4
  auto inputs = PredictionInputs::open(jpeg, 4);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  auto batch = inputs->batch(0, 1);
  ASSERT_TRUE(batch.ok()) << batch.status();
  auto smaller = read_image(jpeg, {4, 4}), full = read_image(jpeg);
  ASSERT_TRUE(smaller.ok() && full.ok());
  EXPECT_EQ(smaller->width, 5);
  EXPECT_EQ(batch->to_vector<float>(), preprocess_for_eval(*smaller, 4).to_vector<float>());
  EXPECT_NE(batch->to_vector<float>(), preprocess_for_eval(*full, 4).to_vector<float>());
}

// A folder's images, then those of the folders below it (a test/CLASS/ tree), as a class
// folder's are read: z.png before nested/deeper/c.png.
TEST(PredictionInputsTest, AFolderStandsForItsImagesThenThoseBelowIt) {
  const std::string dir = temp_path("photos");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/nested/deeper");
  std::filesystem::create_directories(dir + "/empty");
  std::filesystem::create_directories(dir + "/.hidden");
  std::filesystem::copy_file(testdata("rgb.jpg"), dir + "/b.JPG");
  std::filesystem::copy_file(testdata("rgb8.png"), dir + "/a.png");
  std::filesystem::copy_file(testdata("rgb8.png"), dir + "/nested/deeper/c.png");
  std::filesystem::copy_file(testdata("rgb8.png"), dir + "/z.png");
  std::filesystem::copy_file(testdata("rgb8.png"), dir + "/.hidden/d.png");  // left out
  write_temp("photos/notes.txt", "not an image");
  write_temp("photos/._a.png", "macOS metadata, no image");  // hidden: left out
  auto inputs = PredictionInputs::open(dir + "," + testdata("gray.jpg"), 8);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  ASSERT_EQ(inputs->size(), 5);
  EXPECT_EQ(inputs->name(0), dir + "/a.png");
  EXPECT_EQ(inputs->name(1), dir + "/b.JPG");
  EXPECT_EQ(inputs->name(2), dir + "/z.png");
  EXPECT_EQ(inputs->name(3), dir + "/nested/deeper/c.png");
  EXPECT_EQ(inputs->name(4), testdata("gray.jpg"));
  EXPECT_TRUE(inputs->batch(0, 5).ok());
  // The other files are named, as bit_finetune names a class folder's (they dropped unseen).
  EXPECT_EQ(inputs->warnings(),
            std::vector<std::string>{dir + ": passed over 1 file that is not .jpg, .jpeg, .png or "
                                           ".webp: notes.txt"});
  // As bit_finetune's notes: a few named, the rest counted (a folder of photos with a sidecar
  // file each printed a line per sidecar).
  for (int i = 0; i < 7; ++i) write_temp("photos/" + std::to_string(i) + ".json", "{}");
  inputs = PredictionInputs::open(dir, 8);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  EXPECT_EQ(inputs->warnings(),
            std::vector<std::string>{
                dir + ": passed over 8 files that are not .jpg, .jpeg, .png "
                      "or .webp: 0.json, 1.json, 2.json, 3.json, 4.json, ..."});
  EXPECT_TRUE(fails_naming(PredictionInputs::open(dir + "/empty", 8).status(),
                           {dir + "/empty", "without .jpg, .jpeg, .png or .webp files"}));
}

// In a folder, a file named as an image that holds none (a HEIF photo saved as .jpg) is passed
// over with a warning rather than stopping the whole prediction; named alone, it is an error
// when decoded.
TEST(PredictionInputsTest, AFolderPassesOverFilesThatAreNoImages) {
  const std::string dir = temp_path("mixed_photos");
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(testdata("rgb8.png"), dir + "/a.png",
                             std::filesystem::copy_options::overwrite_existing);
  write_temp("mixed_photos/b.jpg", std::string("\0\0\0\x18" "ftypheic\0\0\0\0", 16));
  auto inputs = PredictionInputs::open(dir, 8);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  ASSERT_EQ(inputs->size(), 1);
  EXPECT_EQ(inputs->name(0), dir + "/a.png");
  EXPECT_EQ(inputs->warnings(),
            std::vector<std::string>{dir + ": passed over 1 file that is named as an image but "
                                           "holds no PNG, JPEG or WebP: b.jpg (a HEIF image)"});
  auto alone = PredictionInputs::open(dir + "/b.jpg", 8);
  ASSERT_TRUE(alone.ok()) << alone.status();
  EXPECT_TRUE(fails_naming(alone->batch(0, 1).status(), {dir + "/b.jpg", "HEIF"}));
  std::filesystem::remove(dir + "/a.png");
  EXPECT_TRUE(fails_naming(PredictionInputs::open(dir, 8).status(),
                           {dir + ": a folder whose files named as images hold none",
                            "b.jpg: a HEIF image"}));
}

// A file name with commas ("photo, 2020.jpg") is given whole, or with \, among others.
TEST(PredictionInputsTest, ANameWithACommaIsGivenWholeOrEscaped) {
  const std::string odd = temp_path("photo, 2020.png");
  std::filesystem::copy_file(testdata("rgb8.png"), odd,
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(input_paths(" " + odd + " "), std::vector<std::string>{odd});
  const std::string escaped = temp_path("photo\\, 2020.png");
  EXPECT_EQ(input_paths(escaped + "," + testdata("rgb8.png") + ", ,"),
            (std::vector<std::string>{odd, testdata("rgb8.png")}));
  auto inputs = PredictionInputs::open(escaped + "," + testdata("rgb8.png"), 8);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  EXPECT_EQ(inputs->name(0), odd);
  EXPECT_EQ(input_paths("a.png,b.png"), (std::vector<std::string>{"a.png", "b.png"}));
}

TEST(PredictionInputsTest, NpyBatchIsUsedAsItIs) {
  std::vector<float> values;
  for (int i = 0; i < 3 * 3 * 2 * 2; ++i) values.push_back(std::sin(i * 0.7f));
  const std::string path = temp_path("batch.npy");
  ASSERT_TRUE(write_npy(path, from_vector(values, {3, 3, 2, 2})).ok());
  auto inputs = PredictionInputs::open(path, 128);  // the resolution does not apply
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  EXPECT_EQ(inputs->size(), 3);
  EXPECT_EQ(inputs->name(2), path + "[2]");
  EXPECT_TRUE(inputs->warnings().empty());
  auto middle = inputs->batch(1, 3);
  ASSERT_TRUE(middle.ok());
  EXPECT_EQ(middle->shape(), Shape({2, 3, 2, 2}));
  EXPECT_EQ(middle->to_vector<float>(), std::vector<float>(values.begin() + 12, values.end()));
  // The extension's case does not matter (BATCH.NPY from a Windows tool).
  const std::string upper = temp_path("BATCH.NPY");
  ASSERT_TRUE(write_npy(upper, from_vector(values, {3, 3, 2, 2})).ok());
  inputs = PredictionInputs::open(upper, 128);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  EXPECT_EQ(inputs->name(2), upper + "[2]");
}

TEST(PredictionInputsTest, WarnsAboutABatchOutsideMinusOneOne) {
  // Raw pixel values, not preprocessed; values below -1 only (a mean subtracted twice).
  const std::pair<std::vector<float>, std::string> cases[] = {{{0, 255, 17.5}, "[0, 255]"},
                                                              {{-3, 0.5, -1}, "[-3, 0.5]"}};
  for (const auto& [values, span] : cases) {
    const std::string path = temp_path("pixels.npy");
    ASSERT_TRUE(write_npy(path, from_vector<float>(values, {1, 3, 1, 1})).ok());
    auto inputs = PredictionInputs::open(path, 128);
    ASSERT_TRUE(inputs.ok()) << inputs.status();
    ASSERT_EQ(inputs->warnings().size(), 1u) << span;
    EXPECT_NE(inputs->warnings()[0].find(span + ", not [-1, 1]"), std::string::npos)
        << inputs->warnings()[0];
  }
}

TEST(PredictionInputsTest, BadInputs) {
  EXPECT_TRUE(fails_naming(PredictionInputs::open(" , ", 128).status(), {"no input given"}));
  const std::string missing = testdata("no_such.png");
  auto result = PredictionInputs::open(testdata("rgb8.png") + "," + missing, 128);
  EXPECT_TRUE(absl::IsNotFound(result.status()));
  EXPECT_TRUE(fails_naming(result.status(), {missing, "no such file"}));
  EXPECT_TRUE(fails_naming(PredictionInputs::open(testdata("rgb8.png"), 0).status(),
                           {"resolution must be positive, got 0"}));
  // A pipe named as an input blocked forever, /dev/zero filled the memory.
  const std::string pipe = temp_path("pipe.jpg");
  std::filesystem::remove(pipe);
  ASSERT_EQ(mkfifo(pipe.c_str(), 0644), 0);
  for (const std::string& device : {pipe, std::string("/dev/zero")}) {
    EXPECT_TRUE(fails_naming(PredictionInputs::open(device, 128).status(),
                             {device, "not a file or folder"}));
  }

  const std::string npy = temp_path("ok.npy");
  ASSERT_TRUE(write_npy(npy, zeros({1, 3, 2, 2})).ok());
  EXPECT_TRUE(fails_naming(PredictionInputs::open(npy + "," + testdata("rgb8.png"), 128).status(),
                           {"must be the only input", "2 inputs"}));
  const std::string four_channels = temp_path("rgba.npy");
  ASSERT_TRUE(write_npy(four_channels, zeros({1, 4, 2, 2})).ok());
  EXPECT_TRUE(fails_naming(PredictionInputs::open(four_channels, 128).status(),
                           {four_channels, "(1, 4, 2, 2)", "expected (N, 3, H, W)"}));
  const std::string hwc = temp_path("hwc.npy");
  ASSERT_TRUE(write_npy(hwc, zeros({2, 2, 3})).ok());
  EXPECT_TRUE(fails_naming(PredictionInputs::open(hwc, 128).status(), {hwc, "(2, 2, 3)"}));
  const std::string doubles = temp_path("f64.npy");
  ASSERT_TRUE(write_npy(doubles, zeros({1, 3, 2, 2}, DType::kFloat64)).ok());
  EXPECT_TRUE(fails_naming(PredictionInputs::open(doubles, 128).status(),
                           {doubles, "float64", "expected float32"}));
  const std::string empty_batch = temp_path("empty.npy");
  ASSERT_TRUE(write_npy(empty_batch, zeros({0, 3, 2, 2})).ok());
  EXPECT_TRUE(fails_naming(PredictionInputs::open(empty_batch, 128).status(),
                           {empty_batch, "empty"}));
  // In image 1: inside it, and its last value (the batch's last).
  const std::tuple<float, std::string, int> not_finite_values[] = {
      {std::nanf(""), "nan", 13}, {-std::numeric_limits<float>::infinity(), "-inf", 23}};
  for (const auto& [bad, shown, index] : not_finite_values) {
    const std::string not_finite = temp_path("not_finite.npy");
    std::vector<float> values(2 * 3 * 2 * 2, 0.5f);
    values[index] = bad;
    ASSERT_TRUE(write_npy(not_finite, from_vector(values, {2, 3, 2, 2})).ok());
    const std::string value = "value " + std::to_string(index) + " (image 1) is " + shown;
    EXPECT_TRUE(fails_naming(PredictionInputs::open(not_finite, 128).status(),
                             {not_finite, value, "expected finite"}));
  }

  // A broken image is found when its batch is decoded.
  const std::string png = read_bytes(testdata("rgb8.png"));
  const std::string truncated = write_temp("truncated.png", png.substr(0, png.size() / 2));
  auto inputs = PredictionInputs::open(truncated, 8);
  ASSERT_TRUE(inputs.ok());
  EXPECT_TRUE(fails_naming(inputs->batch(0, 1).status(), {truncated}));
}

// Given a list for them, an image that does not decode is listed by its index among all the
// inputs and left at zeros, and the others of its batch are decoded still.
TEST(PredictionInputsTest, UnreadableImagesAreListedAndLeftAtZeros) {
  const std::string png = read_bytes(testdata("rgb8.png"));
  const std::string truncated = write_temp("cut.png", png.substr(0, png.size() / 2));
  auto inputs = PredictionInputs::open(
      testdata("rgb8.png") + "," + truncated + "," + testdata("rgb.jpg"), 4);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  std::vector<std::pair<int64_t, std::string>> unreadable;
  auto batch = inputs->batch(1, 3, &unreadable);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(unreadable.size(), 1u);
  EXPECT_EQ(unreadable[0].first, 1);
  EXPECT_NE(unreadable[0].second.find(truncated), std::string::npos) << unreadable[0].second;
  auto last = inputs->batch(2, 3);
  ASSERT_TRUE(last.ok()) << last.status();
  const std::vector<float> all = batch->to_vector<float>();
  const size_t per_image = 3 * 4 * 4;
  EXPECT_EQ(std::vector<float>(all.begin(), all.begin() + per_image),
            std::vector<float>(per_image, 0.0f));
  EXPECT_EQ(std::vector<float>(all.begin() + per_image, all.end()), last->to_vector<float>());
}

TEST(LabelsTest, OneNamePerLine) {
  const std::string path = write_temp("labels.txt", "tench\ngoldfish\r\ngreat white shark\n");
  auto names = read_label_names(path);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_EQ(*names, (std::vector<std::string>{"tench", "goldfish", "great white shark"}));
  const std::string unterminated = write_temp("unterminated.txt", "a\n\nc");
  names = read_label_names(unterminated);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "", "c"}));
}

TEST(LabelsTest, BadFiles) {
  const std::string missing = temp_path("no_labels.txt");
  EXPECT_TRUE(absl::IsNotFound(read_label_names(missing).status()));
  EXPECT_TRUE(fails_naming(read_label_names(missing).status(), {missing}));
  const std::string empty = write_temp("empty.txt", "");
  EXPECT_TRUE(fails_naming(read_label_names(empty).status(), {empty, "empty"}));
}

TEST(LabelsTest, TheNamesOfAnNpzGoBesideIt) {
  EXPECT_EQ(labels_path_beside("run/final.npz"), "run/final.labels.txt");
  EXPECT_EQ(labels_path_beside("final"), "final.labels.txt");
}

// A weights file's classes: its labels file when it is an .npz that has one, of as many classes
// as its head has outputs.
TEST(LabelsTest, ClassNamesAreReadBesideAnNpzOnly) {
  const std::string npz = temp_path("beside.npz");
  ASSERT_TRUE(write_label_names(labels_path_beside(npz), {"cat", "dog"}).ok());
  auto names = class_names_beside(npz, 2);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_EQ(*names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_TRUE(fails_naming(class_names_beside(npz, 3).status(),
                           {labels_path_beside(npz), "names 2 classes, its head has 3 outputs"}));

  const std::string checkpoint = temp_path("beside.ckpt");
  ASSERT_TRUE(write_label_names(labels_path_beside(checkpoint), {"cat", "dog"}).ok());
  for (const std::string& unnamed : {checkpoint, temp_path("no_labels_beside.npz")}) {
    names = class_names_beside(unnamed, 2);
    ASSERT_TRUE(names.ok()) << names.status();
    EXPECT_TRUE(names->empty()) << unnamed;
  }
}

TEST(LabelsTest, WrittenNamesReadBack) {
  const std::string path = temp_path("written.labels.txt");
  const std::vector<std::string> names = {"a", "", "sea lion", "ünïcode", ""};
  ASSERT_TRUE(write_label_names(path, names).ok());
  auto read = read_label_names(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, names);
}

TEST(LabelsTest, NamesThatCannotReadBackAreRefused) {
  const std::string path = temp_path("refused.labels.txt");
  EXPECT_TRUE(fails_naming(write_label_names(path, {"cat", "two\nlines"}),
                           {path, "'two\\nlines' holds a line break"}));
  EXPECT_TRUE(fails_naming(write_label_names(path, {"cat", "dos\r"}), {path, "line break"}));
  // Not UTF-8 (Latin-1): a checkpoint could not hold it, nor could JSON or ONNX.
  EXPECT_TRUE(fails_naming(write_label_names(path, {"caf\xE9"}),
                           {path, "'caf\\xe9' is not UTF-8 text"}));
  EXPECT_TRUE(fails_naming(write_label_names(path, {}), {path, "no class names"}));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(LabelsTest, ALineThatIsNotUtf8IsRefusedByNumber) {
  const std::string path = temp_path("latin1.labels.txt");
  std::ofstream(path, std::ios::binary) << "cat\ncaf\xE9\n";
  EXPECT_TRUE(fails_naming(read_label_names(path).status(),
                           {path, "line 2 ('caf\\xe9') is not UTF-8 text"}));
}

}  // namespace
}  // namespace bitgrad
