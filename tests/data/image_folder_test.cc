#include "data/image_folder.h"

#include <filesystem>

#include "gtest/gtest.h"
#include "tests/data/temp_files.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::fails_naming;
using testing::fresh_temp_dir;
using testing::write_file;

const std::string kTestdata = "tests/data/testdata/";

void copy_image(const std::string& fixture, const std::string& to) {
  std::filesystem::create_directories(std::filesystem::path(to).parent_path());
  std::filesystem::copy_file(kTestdata + fixture, to);
}

TEST(ImageFolderTest, ClassesAreSortedSubFoldersAndImagesAreSortedFiles) {
  const std::string root = fresh_temp_dir("folder_ok");
  copy_image("rgb.jpg", root + "/zebra/b.JPG");
  copy_image("rgb8.png", root + "/zebra/a.png");
  copy_image("gray8.png", root + "/ant/x.jpeg");
  write_file(root + "/ant/notes.txt", "not an image");
  write_file(root + "/README", "not a class");
  absl::StatusOr<ImageSet> set = read_image_folder(root);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->class_names, (std::vector<std::string>{"ant", "zebra"}));
  EXPECT_EQ(set->labels, (std::vector<int64_t>{0, 1, 1}));
  EXPECT_EQ(set->files, (std::vector<std::string>{root + "/ant/x.jpeg", root + "/zebra/a.png",
                                                   root + "/zebra/b.JPG"}));
  absl::StatusOr<Image> decoded = set->image(1);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_GT(decoded->height, 0);
}

TEST(ImageFolderTest, TrainAndTestMustListTheSameClasses) {
  const std::string root = fresh_temp_dir("folder_split");
  copy_image("rgb8.png", root + "/train/cat/1.png");
  copy_image("rgb8.png", root + "/train/dog/1.png");
  copy_image("rgb8.png", root + "/val/cat/1.png");
  copy_image("rgb8.png", root + "/val/dog/1.png");
  absl::StatusOr<Dataset> data = load_image_folders(root);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->test.source, root + "/val");
  EXPECT_EQ(data->test.labels, (std::vector<int64_t>{0, 1}));
  copy_image("rgb8.png", root + "/test/cat/1.png");  // test/ wins over val/
  EXPECT_TRUE(fails_naming(load_image_folders(root).status(),
                           {root + "/test", "classes [cat]", "[cat, dog]"}));
}

TEST(ImageFolderTest, BadFoldersAreNamed) {
  EXPECT_TRUE(fails_naming(read_image_folder("/nonexistent/images").status(),
                           {"/nonexistent/images", "no such image folder"}));
  const std::string flat = fresh_temp_dir("folder_flat");
  copy_image("rgb8.png", flat + "/loose.png");
  EXPECT_TRUE(fails_naming(read_image_folder(flat).status(), {flat, "no class sub-folders"}));
  EXPECT_TRUE(fails_naming(load_image_folders("/nonexistent/images").status(),
                           {"/nonexistent/images: no such folder"}));
  // The classes straight under the root, not split into train/ and test/.
  copy_image("rgb8.png", flat + "/cat/1.png");
  copy_image("rgb8.png", flat + "/dog/1.png");
  EXPECT_TRUE(fails_naming(load_image_folders(flat).status(),
                           {flat, "expected train/ and test/ (or val/)", "sub-folders [cat, dog]",
                            "train/CLASS/ and test/CLASS/"}));
  copy_image("rgb8.png", flat + "/train/cat/1.png");
  EXPECT_TRUE(fails_naming(load_image_folders(flat).status(),
                           {flat, "has train/ but no test/ or val/"}));
  const std::string empty_class = fresh_temp_dir("folder_empty_class");
  copy_image("rgb8.png", empty_class + "/a/1.png");
  write_file(empty_class + "/b/readme.txt", "x");
  EXPECT_TRUE(fails_naming(read_image_folder(empty_class).status(),
                           {empty_class + "/b", "without .jpg, .jpeg or .png"}));
}

}  // namespace
}  // namespace bitgrad
