#include "data/image_folder.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bitgrad {
namespace {

namespace fs = std::filesystem;

bool is_image_file(const fs::directory_entry& entry) {
  if (!entry.is_regular_file()) return false;
  const std::string extension = absl::AsciiStrToLower(entry.path().extension().string());
  return extension == ".jpg" || extension == ".jpeg" || extension == ".png";
}

std::vector<fs::directory_entry> sorted_entries(const fs::path& dir) {
  std::vector<fs::directory_entry> entries{fs::directory_iterator(dir), fs::directory_iterator()};
  std::sort(entries.begin(), entries.end());
  return entries;
}

// "sub-folders [a, b, c]" of `dir`, the first few, for messages.
std::string sub_folder_list(const fs::path& dir) {
  constexpr size_t kShown = 5;
  std::vector<std::string> names;
  size_t count = 0;
  for (const fs::directory_entry& entry : sorted_entries(dir)) {
    if (!entry.is_directory()) continue;
    if (++count <= kShown) names.push_back(entry.path().filename().string());
  }
  if (count == 0) return "no sub-folders";
  return absl::StrCat("sub-folders [", absl::StrJoin(names, ", "), count > kShown ? ", ..." : "",
                      "]");
}

}  // namespace

std::vector<std::string> image_files_in(const std::string& dir) {
  std::vector<std::string> files;
  for (const fs::directory_entry& entry : sorted_entries(dir)) {
    if (is_image_file(entry)) files.push_back(entry.path().string());
  }
  return files;
}

absl::StatusOr<ImageSet> read_image_folder(const std::string& root) {
  std::error_code error;
  if (!fs::is_directory(root, error)) {
    return absl::NotFoundError(absl::StrCat(root, ": no such image folder"));
  }
  ImageSet set;
  set.source = root;
  for (const fs::directory_entry& class_dir : sorted_entries(root)) {
    if (!class_dir.is_directory()) continue;
    const int64_t label = set.num_classes();
    set.class_names.push_back(class_dir.path().filename().string());
    const std::vector<std::string> files = image_files_in(class_dir.path().string());
    for (const std::string& file : files) {
      set.files.push_back(file);
      set.labels.push_back(label);
    }
    if (files.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(class_dir.path().string(),
                                                     ": class folder without .jpg, .jpeg or "
                                                     ".png files"));
    }
  }
  if (set.class_names.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(root, ": no class sub-folders; expected root/<class name>/<image files>"));
  }
  return set;
}

absl::StatusOr<Dataset> load_image_folders(const std::string& root) {
  std::error_code error;
  if (!fs::is_directory(root, error)) {
    return absl::NotFoundError(absl::StrCat(root, ": no such folder"));
  }
  if (!fs::is_directory(root + "/train", error)) {
    return absl::NotFoundError(absl::StrCat(
        root, ": expected train/ and test/ (or val/) in it, each with one sub-folder per class; "
        "it has ", sub_folder_list(root), " (if those are the classes, move each one's images "
        "into train/CLASS/ and test/CLASS/)"));
  }
  const bool has_test = fs::is_directory(root + "/test", error);
  if (!has_test && !fs::is_directory(root + "/val", error)) {
    return absl::NotFoundError(absl::StrCat(
        root, ": has train/ but no test/ or val/ for the held-out images (the same class "
        "sub-folders as train/'s)"));
  }
  const std::string test_dir = root + (has_test ? "/test" : "/val");
  absl::StatusOr<ImageSet> train = read_image_folder(root + "/train");
  if (!train.ok()) return train.status();
  absl::StatusOr<ImageSet> test = read_image_folder(test_dir);
  if (!test.ok()) return test.status();
  if (train->class_names != test->class_names) {
    return absl::InvalidArgumentError(absl::StrCat(
        test_dir, ": classes [", absl::StrJoin(test->class_names, ", "), "] differ from ",
        root, "/train's [", absl::StrJoin(train->class_names, ", "), "]"));
  }
  return Dataset{*std::move(train), *std::move(test)};
}

}  // namespace bitgrad
