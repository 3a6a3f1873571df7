#include "data/cifar.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "data/labels.h"

namespace bitgrad {
namespace {

constexpr int64_t kSide = 32;
constexpr int64_t kPlane = kSide * kSide;
constexpr int64_t kPixelBytes = 3 * kPlane;

struct Layout {
  int64_t label_bytes;   // bytes before the pixels
  int64_t label_offset;  // which of them is the label we use
  int64_t num_classes;
  const char* names_file;
  const char* name;
  const char* archive;         // the binary version's file, and the folder it extracts to
  const char* archive_folder;
  const char* first_file;      // of the binary version
  const char* python_file;     // a file of the Python version (pickled), which is not read
  const char* flag;            // the --dataset prefix
};

Layout layout(CifarKind kind) {
  if (kind == CifarKind::kCifar10) {
    return {.label_bytes = 1, .label_offset = 0, .num_classes = 10,
            .names_file = "batches.meta.txt", .name = "CIFAR-10",
            .archive = "cifar-10-binary.tar.gz", .archive_folder = "cifar-10-batches-bin",
            .first_file = "data_batch_1.bin", .python_file = "data_batch_1", .flag = "cifar10"};
  }
  return {.label_bytes = 2, .label_offset = 1, .num_classes = 100,
          .names_file = "fine_label_names.txt", .name = "CIFAR-100",
          .archive = "cifar-100-binary.tar.gz", .archive_folder = "cifar-100-binary",
          .first_file = "train.bin", .python_file = "train", .flag = "cifar100"};
}

CifarKind other(CifarKind kind) {
  return kind == CifarKind::kCifar10 ? CifarKind::kCifar100 : CifarKind::kCifar10;
}

// `dir` or the archive's folder in it, whichever holds `lay`'s first batch file; "" if neither.
std::string folder_holding(const Layout& lay, const std::string& dir) {
  std::error_code error;
  for (const std::string& folder : {dir, absl::StrCat(dir, "/", lay.archive_folder)}) {
    if (std::filesystem::is_regular_file(absl::StrCat(folder, "/", lay.first_file), error)) {
      return folder;
    }
  }
  return "";
}

// The folder that holds `kind`'s binary batches: `dir`, or the archive's folder inside it. Else an
// error that says what `dir` holds instead: nothing, the Python version, or the other CIFAR.
absl::StatusOr<std::string> batches_folder(CifarKind kind, const std::string& dir) {
  namespace fs = std::filesystem;
  const Layout lay = layout(kind);
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such folder"));
  }
  if (std::string folder = folder_holding(lay, dir); !folder.empty()) return folder;
  const std::string expected = absl::StrCat("; bitgrad reads ", lay.name, "'s binary version (",
                                            lay.archive, ", which extracts to ",
                                            lay.archive_folder, "/)");
  if (fs::is_regular_file(absl::StrCat(dir, "/", lay.python_file), error)) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": holds ", lay.python_file, ", from ",
                                                   lay.name, "'s Python version (pickled)",
                                                   expected));
  }
  const Layout other_lay = layout(other(kind));
  if (std::string folder = folder_holding(other_lay, dir); !folder.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(folder, ": holds ", other_lay.name, " (",
                                                   other_lay.first_file, "), not ", lay.name,
                                                   "; use --dataset=", other_lay.flag, ":",
                                                   folder));
  }
  return absl::NotFoundError(absl::StrCat(dir, ": no ", lay.first_file, " in it or in ",
                                          lay.archive_folder, "/ below it", expected));
}

absl::StatusOr<std::string> read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open CIFAR batch file"));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace

absl::StatusOr<ImageSet> read_cifar_files(CifarKind kind, const std::vector<std::string>& files) {
  const Layout lay = layout(kind);
  const int64_t record = lay.label_bytes + kPixelBytes;
  std::vector<std::string> contents;
  int64_t count = 0;
  for (const std::string& path : files) {
    absl::StatusOr<std::string> bytes = read_whole(path);
    if (!bytes.ok()) return bytes.status();
    const int64_t size = static_cast<int64_t>(bytes->size());
    if (size == 0 || size % record != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": ", size, " bytes is not a whole number of ", record, "-byte ",
          kind == CifarKind::kCifar10 ? "CIFAR-10" : "CIFAR-100", " records"));
    }
    count += size / record;
    contents.push_back(*std::move(bytes));
  }
  ImageSet set;
  set.source = files.empty() ? "" : files[0];
  set.pixels = empty({count, kSide, kSide, 3}, DType::kUInt8);
  uint8_t* out = set.pixels.mutable_data<uint8_t>();
  for (size_t f = 0; f < files.size(); ++f) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(contents[f].data());
    for (int64_t r = 0; r < static_cast<int64_t>(contents[f].size()) / record; ++r) {
      const uint8_t* rec = bytes + r * record;
      const int64_t label = rec[lay.label_offset];
      if (label >= lay.num_classes) {
        return absl::InvalidArgumentError(absl::StrCat(files[f], ": record ", r, " has label ",
                                                       label, ", expected 0 to ",
                                                       lay.num_classes - 1));
      }
      set.labels.push_back(label);
      const uint8_t* planes = rec + lay.label_bytes;
      for (int64_t p = 0; p < kPlane; ++p) {  // CHW planes to HWC
        for (int64_t c = 0; c < 3; ++c) *out++ = planes[c * kPlane + p];
      }
    }
  }
  for (int64_t c = 0; c < lay.num_classes; ++c) set.class_names.push_back(absl::StrCat(c));
  return set;
}

absl::StatusOr<Dataset> load_cifar(CifarKind kind, const std::string& given_dir) {
  absl::StatusOr<std::string> found = batches_folder(kind, given_dir);
  if (!found.ok()) return found.status();
  const std::string& dir = *found;
  std::vector<std::string> train_files, test_files;
  if (kind == CifarKind::kCifar10) {
    for (int i = 1; i <= 5; ++i) {
      train_files.push_back(absl::StrCat(dir, "/data_batch_", i, ".bin"));
    }
    test_files.push_back(dir + "/test_batch.bin");
  } else {
    train_files.push_back(dir + "/train.bin");
    test_files.push_back(dir + "/test.bin");
  }
  Dataset data;
  absl::StatusOr<ImageSet> train = read_cifar_files(kind, train_files);
  if (!train.ok()) return train.status();
  absl::StatusOr<ImageSet> test = read_cifar_files(kind, test_files);
  if (!test.ok()) return test.status();
  data.train = *std::move(train);
  data.test = *std::move(test);
  const std::string names_path = absl::StrCat(dir, "/", layout(kind).names_file);
  if (std::error_code ignored; std::filesystem::exists(names_path, ignored)) {
    absl::StatusOr<std::vector<std::string>> names = read_label_names(names_path);
    if (!names.ok()) return names.status();
    // The distributed files end in blank lines.
    while (!names->empty() && names->back().empty()) names->pop_back();
    if (static_cast<int64_t>(names->size()) != layout(kind).num_classes) {
      return absl::InvalidArgumentError(absl::StrCat(names_path, ": ", names->size(),
                                                     " class names, expected ",
                                                     layout(kind).num_classes));
    }
    data.train.class_names = data.test.class_names = *names;
  }
  return data;
}

}  // namespace bitgrad
