#include "data/image_folder.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/fnv1a.h"
#include "data/image_io.h"
#include "data/labels.h"

namespace bitgrad {
namespace {

namespace fs = std::filesystem;

// The names of a list too long to print whole, for messages: the first few, and how many.
class FirstFew {
 public:
  void add(std::string name) {
    if (++count_ <= kShown) names_.push_back(std::move(name));
  }
  size_t count() const { return count_; }
  // "a, b, c, d, e, ..." (the dots when some are left out).
  std::string joined() const {
    return absl::StrCat(absl::StrJoin(names_, ", "), count_ > kShown ? ", ..." : "");
  }

 private:
  static constexpr size_t kShown = 5;
  std::vector<std::string> names_;
  size_t count_ = 0;
};

// Entry types without exceptions: a link loop or a file that cannot be examined is neither a
// folder nor a regular file, where the throwing overloads would end the process.
bool is_folder(const fs::directory_entry& entry) {
  std::error_code ignored;
  return entry.is_directory(ignored);
}

bool has_image_name(const fs::path& path) {
  const std::string extension = absl::AsciiStrToLower(path.extension().string());
  return extension == ".jpg" || extension == ".jpeg" || extension == ".png" ||
         extension == ".webp";
}

bool is_hidden(const fs::path& path) { return path.filename().string().front() == '.'; }

// The entries of `dir` sorted by name; an error names a folder that cannot be listed.
absl::StatusOr<std::vector<fs::directory_entry>> list_dir(const fs::path& dir) {
  std::error_code error;
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    entries.push_back(*it);
  }
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat(dir.string(), ": cannot list the folder (", error.message(), ")"));
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

std::vector<fs::directory_entry> sorted_entries(const fs::path& dir) {
  absl::StatusOr<std::vector<fs::directory_entry>> entries = list_dir(dir);
  return entries.ok() ? *std::move(entries) : std::vector<fs::directory_entry>();
}

struct ListedFolder {
  fs::path path;
  std::vector<fs::directory_entry> entries;  // sorted by name
};

// `folder` and every folder below it that is not hidden, links followed as torchvision follows
// them, each folder once (a link back up would make a cycle), with their entries, sorted by path
// as a string (torchvision's walk: "a" < "a b" < "a/x").
absl::StatusOr<std::vector<ListedFolder>> walk(const fs::path& folder) {
  std::vector<ListedFolder> folders = {{folder, {}}};
  // A folder's path with links resolved, or as given where that fails (then never equal to
  // another, so read).
  const auto resolved = [](const fs::path& path) {
    std::error_code error;
    fs::path real = fs::weakly_canonical(path, error);
    return error ? path : real;
  };
  std::set<fs::path> seen = {resolved(folder)};
  for (size_t next = 0; next < folders.size(); ++next) {
    absl::StatusOr<std::vector<fs::directory_entry>> entries = list_dir(folders[next].path);
    if (!entries.ok()) return entries.status();
    for (const fs::directory_entry& entry : *entries) {
      if (is_folder(entry) && !is_hidden(entry.path()) &&
          seen.insert(resolved(entry.path())).second) {
        folders.push_back({entry.path(), {}});
      }
    }
    folders[next].entries = *std::move(entries);
  }
  std::sort(folders.begin(), folders.end(), [](const ListedFolder& a, const ListedFolder& b) {
    return a.path.string() < b.path.string();
  });
  return folders;
}

// "sub-folders [a, b, c]" of `dir`, the first few, for messages.
std::string sub_folder_list(const fs::path& dir) {
  FirstFew folders;
  for (const fs::directory_entry& entry : sorted_entries(dir)) {
    if (is_folder(entry)) folders.add(entry.path().filename().string());
  }
  if (folders.count() == 0) return "no sub-folders";
  return absl::StrCat("sub-folders [", folders.joined(), "]");
}

// Whether a folder name reads as a split rather than a class: "Train", "validation", ...
bool names_a_split(const std::string& name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (const char* split : {"train", "training", "test", "testing", "val", "valid", "validation"}) {
    if (lower == split) return true;
  }
  return false;
}

// A classifier needs two classes. One class folder is most often a level of nesting too many
// (DIR/train/images/CLASS/ from a zip), and classes that all read as splits are a split.
absl::Status check_classes(const ImageSet& set) {
  if (set.num_classes() == 1) {
    const fs::path only = fs::path(set.source) / set.class_names[0];
    const std::string below = sub_folder_list(only);
    return absl::InvalidArgumentError(absl::StrCat(
        set.source, ": one class folder (", set.class_names[0],
        "); a classifier needs two or more",
        below == "no sub-folders"
            ? ""
            : absl::StrCat("; its ", below, " look like the classes: move them up into ",
                           set.source)));
  }
  if (std::all_of(set.class_names.begin(), set.class_names.end(), names_a_split)) {
    return absl::InvalidArgumentError(absl::StrCat(
        set.source, ": its class folders [", absl::StrJoin(set.class_names, ", "),
        "] name splits, not classes; a split's folders are spelt train/ and test/ (or val/), "
        "in lower case, each with one sub-folder per class"));
  }
  return absl::OkStatus();
}

// Splits `all` (read from `root`) into train and test, holding out `test_fraction` of each
// class's images: those whose paths below root hash lowest. Both keep the file order.
absl::StatusOr<Dataset> hold_out_test_split(const ImageSet& all, const std::string& root,
                                            double test_fraction) {
  std::vector<std::vector<int64_t>> by_class(all.num_classes());
  for (int64_t i = 0; i < all.size(); ++i) by_class[all.labels[i]].push_back(i);
  std::vector<bool> held_out(all.size(), false);
  for (int64_t label = 0; label < all.num_classes(); ++label) {
    std::vector<int64_t>& members = by_class[label];
    const int64_t n = static_cast<int64_t>(members.size());
    if (n < 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          root, "/", all.class_names[label], ": 1 image; --test_fraction holds out part of each "
          "class, so each needs at least 2"));
    }
    const int64_t held = std::clamp<int64_t>(std::llround(test_fraction * n), 1, n - 1);
    std::vector<std::pair<uint64_t, std::string>> keys;
    for (int64_t i : members) {
      std::string relative = fs::path(all.files[i]).lexically_relative(root).generic_string();
      keys.emplace_back(fnv1a(relative), std::move(relative));
    }
    std::vector<int64_t> order(n);
    for (int64_t k = 0; k < n; ++k) order[k] = k;
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return keys[a] < keys[b]; });
    for (int64_t k = 0; k < held; ++k) held_out[members[order[k]]] = true;
  }
  std::vector<int64_t> train_indices, test_indices;
  for (int64_t i = 0; i < all.size(); ++i) {
    (held_out[i] ? test_indices : train_indices).push_back(i);
  }
  Dataset split{all.subset(train_indices), all.subset(test_indices)};
  split.train.skipped_files = all.skipped_files;  // reported once, with the training split
  return split;
}

// Notes for images that are one file reached under two paths (a folder linked into a
// second class or split, a hard link): listed twice, such an image weighs double in training,
// holds two labels when the paths are in two classes, or is tested on when it was trained on.
std::vector<std::string> same_file_notes(const Dataset& data) {
  struct FileId {
    dev_t device;
    ino_t inode;
    bool operator<(const FileId& other) const {
      return std::tie(device, inode) < std::tie(other.device, other.inode);
    }
  };
  struct Listed {
    const ImageSet* set;
    int64_t index;
  };
  std::map<FileId, Listed> first_listing;
  std::vector<std::string> lines;
  for (const ImageSet* set : {&data.train, &data.test}) {
    FirstFew twice, trained_on;
    for (int64_t i = 0; i < set->size(); ++i) {
      struct stat file;
      if (::stat(set->files[i].c_str(), &file) != 0) continue;  // its decoding will say why
      const auto [first, is_new] = first_listing.insert({{file.st_dev, file.st_ino}, {set, i}});
      if (is_new) continue;
      const ImageSet& earlier = *first->second.set;
      const int64_t j = first->second.index;
      const std::string here = fs::path(set->files[i]).lexically_relative(set->source).string();
      if (&earlier != set) {
        trained_on.add(absl::StrCat(here, " is ", earlier.files[j]));
      } else {
        twice.add(absl::StrCat(
            here, " is ", fs::path(earlier.files[j]).lexically_relative(set->source).string(),
            earlier.labels[j] == set->labels[i] ? "" : " (another class)"));
      }
    }
    if (twice.count() > 0) {
      lines.push_back(absl::StrCat(
          set->source, ": ", twice.count(),
          twice.count() == 1 ? " image is a file" : " images are files",
          " listed before under another path (links, or hard links, to one file), read as often "
          "as listed, and with two labels where the paths are in two classes: ",
          twice.joined()));
    }
    if (trained_on.count() > 0) {
      lines.push_back(absl::StrCat(
          set->source, ": ", trained_on.count(),
          trained_on.count() == 1 ? " test image is a training image"
                                  : " test images are training images",
          " too (links, or hard links, to one file), so the test accuracy counts them: ",
          trained_on.joined()));
    }
  }
  return lines;
}

}  // namespace

absl::Status list_image_files(const std::string& dir, std::vector<std::string>& images,
                              std::vector<SkippedFile>& others) {
  absl::StatusOr<std::vector<ListedFolder>> folders = walk(dir);
  if (!folders.ok()) return folders.status();
  for (const ListedFolder& folder : *folders) {
    for (const fs::directory_entry& entry : folder.entries) {
      if (is_hidden(entry.path())) continue;
      const std::string path = entry.path().string();
      std::error_code error;
      const bool regular = entry.is_regular_file(error);
      if (!has_image_name(entry.path())) {
        if (!is_folder(entry)) others.push_back({path, ""});
      } else if (!regular) {  // a broken link, a link loop, a device named x.jpg
        if (!is_folder(entry)) {
          others.push_back({path, error ? absl::StrCat("unreadable: ", error.message())
                                        : std::string("not a regular file")});
        }
      } else if (std::string holds = not_a_decodable_image(path); !holds.empty()) {
        others.push_back({path, std::move(holds)});
      } else {
        images.push_back(path);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status no_images_error(const std::string& dir, const std::string& what,
                             const std::vector<SkippedFile>& others) {
  // Files named as images that hold none (a HEIF photo saved as .jpg) say so here: the note
  // that lists them comes after the folder is read, which this error stops.
  std::vector<std::string> named_as_images;
  for (const SkippedFile& file : others) {
    if (!file.holds.empty()) {
      named_as_images.push_back(
          absl::StrCat(fs::path(file.path).filename().string(), ": ", file.holds));
    }
  }
  if (!named_as_images.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir, ": ", what, " whose files named as images hold none (",
        absl::StrJoin(named_as_images.begin(),
                      named_as_images.begin() + std::min<size_t>(3, named_as_images.size()),
                      "; "),
        named_as_images.size() > 3 ? "; ..." : "", ")"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(dir, ": ", what, " without ", kImageFileNames, " files"));
}

absl::StatusOr<ImageSet> read_image_folder(const std::string& root) {
  std::error_code error;
  if (!fs::is_directory(root, error)) {
    return absl::NotFoundError(absl::StrCat(root, ": no such image folder"));
  }
  absl::StatusOr<std::vector<fs::directory_entry>> class_dirs = list_dir(root);
  if (!class_dirs.ok()) return class_dirs.status();
  ImageSet set;
  set.source = root;
  for (const fs::directory_entry& class_dir : *class_dirs) {
    if (is_hidden(class_dir.path())) continue;
    if (!is_folder(class_dir)) {
      set.skipped_files.push_back({class_dir.path().string(), "", true});
      continue;
    }
    const int64_t label = set.num_classes();
    const std::string name = class_dir.path().filename().string();
    if (std::string problem = class_name_problem(name); !problem.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          root, "/", absl::CHexEscape(name), ": this folder's name cannot name a class: it ",
          problem, " (checkpoints and labels files hold class names as lines of UTF-8); "
          "rename the folder"));
    }
    set.class_names.push_back(name);
    const size_t before = set.files.size(), skipped_before = set.skipped_files.size();
    if (absl::Status s = list_image_files(class_dir.path().string(), set.files, set.skipped_files);
        !s.ok()) {
      return s;
    }
    if (set.files.size() == before) {
      return no_images_error(
          class_dir.path().string(), "class folder",
          std::vector<SkippedFile>(set.skipped_files.begin() + skipped_before,
                                   set.skipped_files.end()));
    }
    set.labels.resize(set.files.size(), label);
  }
  if (set.class_names.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(root, ": no class sub-folders; expected root/<class name>/<image files>"));
  }
  return set;
}

std::vector<std::string> skipped_files_lines(const std::string& source,
                                             const std::vector<SkippedFile>& skipped) {
  FirstFew misnamed, mislabeled, outside;
  for (const SkippedFile& file : skipped) {
    const std::string name = fs::path(file.path).lexically_relative(source).string();
    if (file.outside_class_folders) {
      outside.add(name);
    } else if (file.holds.empty()) {
      misnamed.add(name);
    } else {
      mislabeled.add(absl::StrCat(name, " (", file.holds, ")"));
    }
  }
  std::vector<std::string> lines;
  // `one` and `many`: what the file is, or the files are.
  auto add_line = [&](const FirstFew& files, const std::string& one, const std::string& many) {
    const size_t n = files.count();
    if (n == 0) return;
    lines.push_back(absl::StrCat(source, ": passed over ", n, n == 1 ? " file" : " files",
                                 " that ", n == 1 ? one : many, ": ", files.joined()));
  };
  add_line(outside, "is in no class folder (a class is a sub-folder)",
           "are in no class folder (a class is a sub-folder)");
  add_line(misnamed, absl::StrCat("is not ", kImageFileNames),
           absl::StrCat("are not ", kImageFileNames));
  add_line(mislabeled,
           absl::StrCat("is named as an image but holds no ", kDecodableFormats),
           absl::StrCat("are named as images but hold no ", kDecodableFormats));
  return lines;
}

std::string skipped_files_note(const ImageSet& set) {
  std::string note;
  for (const std::string& line : skipped_files_lines(set.source, set.skipped_files)) {
    absl::StrAppend(&note, "note: ", line, "\n");
  }
  return note;
}

absl::Status check_test_fraction(double test_fraction) {
  if (test_fraction >= 0 && test_fraction < 1) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--test_fraction=", test_fraction, ": expected a fraction in [0, 1)"));
}

absl::StatusOr<Dataset> load_image_folders(const std::string& root, double test_fraction) {
  std::error_code error;
  if (!fs::is_directory(root, error)) {
    return absl::NotFoundError(absl::StrCat(root, ": no such folder"));
  }
  if (absl::Status status = check_test_fraction(test_fraction); !status.ok()) return status;
  const bool has_train = fs::is_directory(root + "/train", error);
  if (test_fraction > 0) {
    if (has_train) {
      return absl::InvalidArgumentError(absl::StrCat(
          root, ": has a train/ folder, so its own split; --test_fraction is for a folder that "
          "holds the class folders themselves"));
    }
    absl::StatusOr<ImageSet> all = read_image_folder(root);
    if (!all.ok()) return all.status();
    if (absl::Status status = check_classes(*all); !status.ok()) return status;
    absl::StatusOr<Dataset> split = hold_out_test_split(*all, root, test_fraction);
    if (split.ok()) split->notes = same_file_notes(*split);
    return split;
  }
  if (!has_train) {
    return absl::NotFoundError(absl::StrCat(
        root, ": expected train/ and test/ (or val/) in it, each with one sub-folder per class; "
        "it has ", sub_folder_list(root), " (if those are the classes, --test_fraction=0.2 "
        "holds out a fifth of each one's images for testing; or move them into train/CLASS/ "
        "and test/CLASS/)"));
  }
  const bool has_test = fs::is_directory(root + "/test", error);
  if (!has_test && !fs::is_directory(root + "/val", error)) {
    return absl::NotFoundError(absl::StrCat(
        root, ": has train/ but no test/ or val/ for the held-out images (the same class "
        "sub-folders as train/'s)"));
  }
  const std::string test_dir = root + (has_test ? "/test" : "/val");
  std::vector<std::string> notes;
  if (has_test && fs::is_directory(root + "/val", error)) {
    notes.push_back(absl::StrCat(root, "/val: passed over; ", root, "/test holds the test split"));
  }
  absl::StatusOr<ImageSet> train = read_image_folder(root + "/train");
  if (!train.ok()) return train.status();
  if (absl::Status status = check_classes(*train); !status.ok()) return status;
  absl::StatusOr<ImageSet> test = read_image_folder(test_dir);
  if (!test.ok()) return test.status();
  if (train->class_names != test->class_names) {
    // Names that print alike can differ in their bytes: a folder copied from macOS spells é as
    // e and a combining accent (Unicode NFD).
    std::string same_looking;
    for (size_t i = 0; i < std::min(train->class_names.size(), test->class_names.size()); ++i) {
      const std::string &here = test->class_names[i], &there = train->class_names[i];
      if (here != there && absl::CHexEscape(here) != here) {
        same_looking = absl::StrCat("; class ", i, " is '", absl::CHexEscape(here), "' here and '",
                                    absl::CHexEscape(there), "' there, byte for byte (macOS "
                                    "writes accents apart from their letters, Unicode NFD)");
        break;
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(
        test_dir, ": classes [", absl::StrJoin(test->class_names, ", "), "] differ from ",
        root, "/train's [", absl::StrJoin(train->class_names, ", "), "]", same_looking));
  }
  Dataset data{*std::move(train), *std::move(test), std::move(notes)};
  for (std::string& line : same_file_notes(data)) data.notes.push_back(std::move(line));
  return data;
}

}  // namespace bitgrad
