#include "data/image_folder.h"

#include <cmath>
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

// torchvision's order: folders sorted by path as strings, each one's files by name. Sorting the
// file paths instead would put 2019/a.png first; sorting folders as paths, "a/x" before "a b".
TEST(ImageFolderTest, ImagesInFoldersBelowAClassComeInTorchvisionsOrder) {
  const std::string root = fresh_temp_dir("folder_nested");
  copy_image("rgb8.png", root + "/cat/b.png");
  copy_image("rgb8.png", root + "/cat/2019/a.png");
  copy_image("rgb8.png", root + "/cat/a/x/c.png");
  copy_image("rgb8.png", root + "/cat/a b/d.png");
  copy_image("rgb8.png", root + "/cat/a/e.png");
  copy_image("rgb8.png", root + "/dog/f.png");
  absl::StatusOr<ImageSet> set = read_image_folder(root);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->class_names, (std::vector<std::string>{"cat", "dog"}));
  const std::vector<std::string> expected = {
      root + "/cat/b.png",     root + "/cat/2019/a.png", root + "/cat/a/e.png",
      root + "/cat/a b/d.png", root + "/cat/a/x/c.png",  root + "/dog/f.png"};
  EXPECT_EQ(set->files, expected);
  EXPECT_EQ(set->labels, (std::vector<int64_t>{0, 0, 0, 0, 0, 1}));
  EXPECT_TRUE(set->skipped_files.empty());
  EXPECT_EQ(skipped_files_note(*set), "");
}

// Hidden files and folders are no classes and no images (Jupyter's .ipynb_checkpoints/ would
// otherwise be a class); links to folders inside a class are not followed (no cycles). Other
// files are listed, so that a user sees images in formats bitgrad does not read.
TEST(ImageFolderTest, HiddenEntriesAreLeftOutLinksFollowedOnceAndOtherFilesNoted) {
  const std::string root = fresh_temp_dir("folder_skipped");
  copy_image("rgb8.png", root + "/cat/1.png");
  copy_image("rgb8.png", root + "/cat/.hidden/2.png");
  copy_image("rgb8.png", root + "/.ipynb_checkpoints/3.png");
  copy_image("rgb8.png", root + "/dog/1.png");
  write_file(root + "/cat/.DS_Store", "x");
  write_file(root + "/cat/notes.txt", "x");
  write_file(root + "/dog/old/x.gif", "x");
  // A link to a folder is read as torchvision reads it; one back up (a cycle) is not read again.
  std::filesystem::create_directory_symlink(root + "/cat", root + "/dog/linked");
  std::filesystem::create_directory_symlink(root + "/cat", root + "/cat/up");
  absl::StatusOr<ImageSet> set = read_image_folder(root);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(set->files, (std::vector<std::string>{root + "/cat/1.png", root + "/dog/1.png",
                                                  root + "/dog/linked/1.png"}));
  EXPECT_EQ(set->skipped_files, (std::vector<SkippedFile>{{root + "/cat/notes.txt", ""},
                                                           {root + "/dog/linked/notes.txt", ""},
                                                           {root + "/dog/old/x.gif", ""}}));
  EXPECT_EQ(skipped_files_note(*set),
            "note: " + root + ": passed over 3 files that are not .jpg, .jpeg, .png or .webp: "
            "cat/notes.txt, dog/linked/notes.txt, dog/old/x.gif\n");
  for (int i = 0; i < 6; ++i) write_file(root + "/dog/" + std::to_string(i) + ".bmp", "x");
  // Files in the root, in no class folder (a loose photo, a broken link), are named too.
  copy_image("rgb8.png", root + "/loose.png");
  std::filesystem::create_directory_symlink("/nonexistent/drive", root + "/unmounted");
  set = read_image_folder(root);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(skipped_files_note(*set),
            "note: " + root + ": passed over 2 files that are in no class folder (a class is a "
            "sub-folder): loose.png, unmounted\n"
            "note: " + root + ": passed over 9 files that are not .jpg, .jpeg, .png or .webp: "
            "cat/notes.txt, dog/0.bmp, dog/1.bmp, dog/2.bmp, dog/3.bmp, ...\n");
}

// Files named as images whose bytes are no PNG, JPEG or WebP (a phone's HEIF photo saved as
// .jpg, a GIF, an empty file) are passed over and named before a run, not met by the
// loader in the middle of one.
TEST(ImageFolderTest, FilesNamedAsImagesThatHoldNoneAreNoted) {
  const std::string root = fresh_temp_dir("folder_mislabeled");
  copy_image("rgb.jpg", root + "/cat/1.jpg");
  copy_image("rgb_lossy.webp", root + "/cat/4.webp");
  copy_image("rgb8.png", root + "/dog/1.png");
  write_file(root + "/cat/2.jpg", "GIF89a\x01\x00\x01\x00");
  write_file(root + "/cat/3.JPEG", std::string("\0\0\0\x18" "ftypheic\0\0\0\0", 16));
  write_file(root + "/dog/2.png", "");
  write_file(root + "/dog/3.png", "plain text, not an image");
  write_file(root + "/dog/notes.txt", "x");
  absl::StatusOr<ImageSet> set = read_image_folder(root);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->files, (std::vector<std::string>{root + "/cat/1.jpg", root + "/cat/4.webp",
                                                   root + "/dog/1.png"}));
  EXPECT_EQ(skipped_files_note(*set),
            "note: " + root + ": passed over 1 file that is not .jpg, .jpeg, .png or .webp: "
            "dog/notes.txt\n"
            "note: " + root + ": passed over 4 files that are named as images but hold no PNG, "
            "JPEG or WebP: cat/2.jpg (a GIF image), cat/3.JPEG (a HEIF image), dog/2.png (an "
            "empty file), dog/3.png (not an image (first bytes 70 6c 61 69 6e 20 74 65))\n");
}

// A class whose every file named as an image holds none says so, rather than that it has no
// such files (the note above comes only after a folder has been read).
TEST(ImageFolderTest, AClassOfOnlyFilesNamedAsImagesThatHoldNoneSaysSo) {
  const std::string root = fresh_temp_dir("folder_all_mislabeled");
  copy_image("rgb.jpg", root + "/cat/1.jpg");
  write_file(root + "/dog/a.jpg", "plain text, not an image");
  write_file(root + "/dog/b.JPEG", std::string("\0\0\0\x18" "ftypheic\0\0\0\0", 16));
  write_file(root + "/dog/notes.txt", "x");
  EXPECT_TRUE(fails_naming(read_image_folder(root).status(),
                           {root + "/dog: class folder whose files named as images hold none",
                            "a.jpg: not an image", "b.JPEG: a HEIF image"}));
  write_file(root + "/bird/notes.txt", "x");  // and one with no such files at all
  std::filesystem::remove_all(root + "/dog");
  EXPECT_TRUE(fails_naming(read_image_folder(root).status(),
                           {root + "/bird: class folder without .jpg, .jpeg, .png or .webp"}));
}

// Links that lead nowhere are passed over and named, not examined with a throwing call that
// would end the process (a link loop's stat fails with ELOOP).
TEST(ImageFolderTest, BrokenLinksAndLinkLoopsAreNotedNotFatal) {
  const std::string root = fresh_temp_dir("folder_links");
  copy_image("rgb8.png", root + "/cat/1.png");
  copy_image("rgb8.png", root + "/dog/1.png");
  std::filesystem::create_symlink("loop.jpg", root + "/cat/loop.jpg");
  std::filesystem::create_symlink("missing.png", root + "/dog/gone.png");
  std::filesystem::create_symlink("nowhere", root + "/mouse");  // not a class folder
  absl::StatusOr<ImageSet> set = read_image_folder(root);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(set->files, (std::vector<std::string>{root + "/cat/1.png", root + "/dog/1.png"}));
  EXPECT_EQ(skipped_files_note(*set),
            "note: " + root + ": passed over 1 file that is in no class folder (a class is a "
            "sub-folder): mouse\n"
            "note: " + root + ": passed over 2 files that are named as images but hold no PNG, "
            "JPEG or WebP: cat/loop.jpg (unreadable: Too many levels of symbolic links), "
            "dog/gone.png (unreadable: No such file or directory)\n");
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
  EXPECT_TRUE(data->notes.empty()) << data->notes[0];  // no test/ that val/ gives way to
  copy_image("rgb8.png", root + "/test/cat/1.png");  // test/ wins over val/, which a note names
  EXPECT_TRUE(fails_naming(load_image_folders(root).status(),
                           {root + "/test", "classes [cat]", "[cat, dog]"}));
  // The same-looking name, spelt as macOS spells it (NFD: e, then a combining acute accent).
  copy_image("rgb8.png", root + "/train/caf\xC3\xA9/1.png");
  copy_image("rgb8.png", root + "/test/cafe\xCC\x81/1.png");
  EXPECT_TRUE(fails_naming(load_image_folders(root).status(),
                           {"class 0 is 'cafe\\xcc\\x81' here and 'caf\\xc3\\xa9' there",
                            "Unicode NFD"}));
  std::filesystem::remove_all(root + "/train/caf\xC3\xA9");
  std::filesystem::remove_all(root + "/test/cafe\xCC\x81");
  copy_image("rgb8.png", root + "/test/dog/1.png");
  data = load_image_folders(root);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->test.source, root + "/test");
  EXPECT_EQ(data->notes, std::vector<std::string>{root + "/val: passed over; " + root +
                                                  "/test holds the test split"});
}

// A folder linked into another class, and a test image hard-linked to a training one: each
// image is read under every path, as torchvision reads it, and a note says so.
TEST(ImageFolderTest, OneFileUnderTwoPathsIsNoted) {
  const std::string root = fresh_temp_dir("folder_same_file");
  copy_image("rgb8.png", root + "/train/cat/1.png");
  copy_image("rgb8.png", root + "/train/cat/2.png");
  copy_image("rgb8.png", root + "/train/dog/1.png");
  copy_image("rgb8.png", root + "/test/cat/2.png");
  copy_image("rgb8.png", root + "/test/dog/1.png");
  absl::StatusOr<Dataset> data = load_image_folders(root);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_TRUE(data->notes.empty());  // copies are files of their own
  std::filesystem::create_directory_symlink(root + "/train/cat", root + "/train/dog/cats");
  std::filesystem::create_hard_link(root + "/train/cat/1.png", root + "/test/cat/1.png");
  data = load_image_folders(root);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train.size(), 5);
  EXPECT_EQ(data->notes,
            (std::vector<std::string>{
                root + "/train: 2 images are files listed before under another path (links, or "
                       "hard links, to one file), read as often as listed, and with two labels "
                       "where the paths are in two classes: dog/cats/1.png is cat/1.png (another "
                       "class), dog/cats/2.png is cat/2.png (another class)",
                root + "/test: 1 test image is a training image too (links, or hard links, to "
                       "one file), so the test accuracy counts them: cat/1.png is " +
                    root + "/train/cat/1.png"}));
}

// A folder of class folders, with no train/ and test/ of its own: part of each class is held
// out, picked by the FNV-1a hashes of the paths below the root (the expected names come from
// an independent Python FNV-1a), so the split survives a copy of the folder and any seed.
TEST(ImageFolderTest, ATestFractionHoldsOutTheSameImagesOfEachClass) {
  const std::string root = fresh_temp_dir("folder_holdout");
  for (int i = 0; i < 7; ++i) copy_image("rgb8.png", root + "/cat/" + std::to_string(i) + ".png");
  for (int i = 0; i < 4; ++i) copy_image("rgb8.png", root + "/dog/" + std::to_string(i) + ".png");
  copy_image("rgb8.png", root + "/dog/2019/a.png");
  write_file(root + "/dog/notes.txt", "not an image");
  absl::StatusOr<Dataset> data = load_image_folders(root, 0.25);
  ASSERT_TRUE(data.ok()) << data.status();
  // 0.25 of 7 rounds to 2, of 5 to 1; both splits keep the file order.
  EXPECT_EQ(data->test.files, (std::vector<std::string>{root + "/cat/5.png", root + "/cat/6.png",
                                                        root + "/dog/2.png"}));
  EXPECT_EQ(data->test.labels, (std::vector<int64_t>{0, 0, 1}));
  EXPECT_EQ(data->train.files,
            (std::vector<std::string>{root + "/cat/0.png", root + "/cat/1.png",
                                      root + "/cat/2.png", root + "/cat/3.png",
                                      root + "/cat/4.png", root + "/dog/0.png",
                                      root + "/dog/1.png", root + "/dog/3.png",
                                      root + "/dog/2019/a.png"}));
  EXPECT_EQ(data->train.labels, (std::vector<int64_t>{0, 0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(data->train.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(data->test.class_names, data->train.class_names);
  EXPECT_EQ(data->train.skipped_files, (std::vector<SkippedFile>{{root + "/dog/notes.txt", ""}}));
  EXPECT_TRUE(data->test.skipped_files.empty());  // noted once

  // The same names below another root: the same split.
  const std::string copy = fresh_temp_dir("folder_holdout_copy");
  std::filesystem::copy(root, copy, std::filesystem::copy_options::recursive);
  absl::StatusOr<Dataset> copied = load_image_folders(copy, 0.25);
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(copied->test.files, (std::vector<std::string>{copy + "/cat/5.png",
                                                          copy + "/cat/6.png",
                                                          copy + "/dog/2.png"}));
  // At least one image of each class on both sides, whatever the fraction.
  data = load_image_folders(root, 0.01);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->test.labels, (std::vector<int64_t>{0, 1}));
  data = load_image_folders(root, 0.99);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train.labels, (std::vector<int64_t>{0, 1}));
}

TEST(ImageFolderTest, ATestFractionNeedsAFolderOfClassFoldersWithTwoImagesEach) {
  const std::string root = fresh_temp_dir("folder_holdout_bad");
  copy_image("rgb8.png", root + "/cat/1.png");
  copy_image("rgb8.png", root + "/cat/2.png");
  copy_image("rgb8.png", root + "/dog/1.png");
  EXPECT_TRUE(fails_naming(load_image_folders(root, 0.2).status(),
                           {root + "/dog: 1 image", "at least 2"}));
  for (double bad : {-0.1, 1.0, std::nan("")}) {
    EXPECT_TRUE(fails_naming(load_image_folders(root, bad).status(),
                             {"--test_fraction", "a fraction in [0, 1)"}));
  }
  copy_image("rgb8.png", root + "/train/cat/1.png");
  EXPECT_TRUE(fails_naming(load_image_folders(root, 0.2).status(),
                           {root + ": has a train/ folder", "its own split"}));
}

// One class trains a classifier that is always right: refused, and a level of nesting too many
// (DIR/train/images/CLASS/, as zips have) is named. Classes that all read as splits are a split.
TEST(ImageFolderTest, OneClassOrClassesNamedAsSplitsAreRefused) {
  const std::string nested = fresh_temp_dir("folder_nested");
  for (const char* image : {"train/images/cat/1.png", "train/images/dog/1.png",
                            "test/images/cat/1.png", "test/images/dog/1.png"}) {
    copy_image("rgb8.png", nested + "/" + image);
  }
  EXPECT_TRUE(fails_naming(load_image_folders(nested).status(),
                           {nested + "/train: one class folder (images)", "needs two or more",
                            "its sub-folders [cat, dog] look like the classes"}));
  const std::string lone = fresh_temp_dir("folder_lone_class");
  copy_image("rgb8.png", lone + "/cat/1.png");
  copy_image("rgb8.png", lone + "/cat/2.png");
  const absl::Status one = load_image_folders(lone, 0.5).status();
  EXPECT_TRUE(fails_naming(one, {lone + ": one class folder (cat); a classifier needs two"}));
  EXPECT_EQ(std::string(one.message()).find("look like"), std::string::npos) << one;

  const std::string capitalised = fresh_temp_dir("folder_capitalised");
  copy_image("rgb8.png", capitalised + "/Train/cat/1.png");
  copy_image("rgb8.png", capitalised + "/Train/cat/2.png");
  copy_image("rgb8.png", capitalised + "/Test/cat/1.png");
  copy_image("rgb8.png", capitalised + "/Test/cat/2.png");
  EXPECT_TRUE(fails_naming(load_image_folders(capitalised, 0.5).status(),
                           {capitalised, "class folders [Test, Train] name splits",
                            "train/ and test/ (or val/), in lower case"}));
  const std::string spelt_out = fresh_temp_dir("folder_spelt_out");
  for (const char* image : {"Training/cat/1.png", "Training/cat/2.png", "Validation/cat/1.png",
                            "Validation/cat/2.png"}) {
    copy_image("rgb8.png", spelt_out + "/" + image);
  }
  EXPECT_TRUE(fails_naming(load_image_folders(spelt_out, 0.5).status(),
                           {"class folders [Training, Validation] name splits"}));
  // One class named like a split among others is a class.
  const std::string mixed = fresh_temp_dir("folder_test_class");
  for (const char* image : {"cat/1.png", "cat/2.png", "test/1.png", "test/2.png"}) {
    copy_image("rgb8.png", mixed + "/" + image);
  }
  absl::StatusOr<Dataset> data = load_image_folders(mixed, 0.5);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train.class_names, (std::vector<std::string>{"cat", "test"}));
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
                            "--test_fraction=0.2", "train/CLASS/ and test/CLASS/"}));
  copy_image("rgb8.png", flat + "/train/cat/1.png");
  EXPECT_TRUE(fails_naming(load_image_folders(flat).status(),
                           {flat, "has train/ but no test/ or val/"}));
  const std::string empty_class = fresh_temp_dir("folder_empty_class");
  copy_image("rgb8.png", empty_class + "/a/1.png");
  write_file(empty_class + "/b/readme.txt", "x");
  EXPECT_TRUE(fails_naming(read_image_folder(empty_class).status(),
                           {empty_class + "/b", "without .jpg, .jpeg, .png or .webp"}));
  // Folder names a class name cannot be (a Latin-1 name from an old zip; a line break): named,
  // escaped, before any training, not in the checkpoint a run would fail to read back.
  for (const auto& [name, shown] : std::vector<std::pair<std::string, std::string>>{
           {"caf\xE9", "caf\\xe9: this folder's name cannot name a class: it is not UTF-8 text"},
           {"two\nlines", "two\\nlines: this folder's name cannot name a class: it holds a line "
                          "break"}}) {
    const std::string root = fresh_temp_dir("folder_bad_name");
    copy_image("rgb8.png", root + "/a/1.png");
    copy_image("rgb8.png", root + "/" + name + "/1.png");
    EXPECT_TRUE(fails_naming(read_image_folder(root).status(), {root + "/" + shown}));
  }
}

}  // namespace
}  // namespace bitgrad
