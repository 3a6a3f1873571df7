#include "data/datasets.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "data/cifar.h"
#include "data/idx_dataset.h"
#include "data/image_folder.h"
#include "data/keras_npz.h"

namespace bitgrad {
namespace {

// MNIST's file, as its site names it ("train-images-idx3-ubyte") or as some mirrors do
// ("train-images.idx3-ubyte"), gzipped (".gz") or not: the first that exists, else the site's
// name, for the error.
std::string idx_path(const std::string& dir, const std::string& stem) {
  const std::string site = absl::StrCat(dir, "/", stem);
  const std::string mirror = absl::StrCat(dir, "/", absl::StrReplaceAll(stem, {{"-idx", ".idx"}}));
  for (const std::string& path : {site + ".gz", site, mirror + ".gz", mirror}) {
    if (std::error_code ignored; std::filesystem::exists(path, ignored)) return path;
  }
  return site;
}

absl::StatusOr<ImageSet> read_idx_split(const std::string& dir, const std::string& prefix,
                                        const std::vector<std::string>& class_names) {
  const std::string images = idx_path(dir, prefix + "-images-idx3-ubyte");
  absl::StatusOr<LabeledImages> data =
      read_idx_dataset(images, idx_path(dir, prefix + "-labels-idx1-ubyte"));
  if (!data.ok()) return data.status();
  ImageSet set;
  set.source = images;
  const Shape& s = data->images.shape();
  set.pixels = data->images.view({s[0], s[1], s[2], 1});
  set.labels = data->labels.to_vector<int64_t>();
  set.class_names = class_names;
  return set;
}

absl::StatusOr<Dataset> load_idx_dir(const std::string& dir,
                                     const std::vector<std::string>& class_names) {
  absl::StatusOr<ImageSet> train = read_idx_split(dir, "train", class_names);
  if (!train.ok()) return train.status();
  absl::StatusOr<ImageSet> test = read_idx_split(dir, "t10k", class_names);
  if (!test.ok()) return test.status();
  return Dataset{*std::move(train), *std::move(test)};
}

absl::StatusOr<Dataset> read_any(DatasetFormat format, const std::string& path,
                                 double test_fraction) {
  if (absl::Status status = check_test_fraction(format, test_fraction); !status.ok()) {
    return status;
  }
  switch (format) {
    case DatasetFormat::kMnist:
      return load_idx_dir(path, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
    case DatasetFormat::kFashionMnist:
      return load_idx_dir(path, std::vector<std::string>(std::begin(kFashionMnistClasses),
                                                         std::end(kFashionMnistClasses)));
    case DatasetFormat::kCifar10:
      return load_cifar(CifarKind::kCifar10, path);
    case DatasetFormat::kCifar100:
      return load_cifar(CifarKind::kCifar100, path);
    case DatasetFormat::kImageFolder:
      return load_image_folders(path, test_fraction);
    case DatasetFormat::kKerasNpz:
      return read_keras_npz(path);
  }
  BG_ASSERT(false, "unknown DatasetFormat");
}

}  // namespace

absl::StatusOr<DatasetFormat> parse_dataset_format(const std::string& name) {
  if (name == "mnist") return DatasetFormat::kMnist;
  if (name == "fashion_mnist") return DatasetFormat::kFashionMnist;
  if (name == "cifar10") return DatasetFormat::kCifar10;
  if (name == "cifar100") return DatasetFormat::kCifar100;
  if (name == "folder") return DatasetFormat::kImageFolder;
  if (name == "npz") return DatasetFormat::kKerasNpz;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown dataset format \"", name,
      "\"; expected mnist, fashion_mnist, cifar10, cifar100, folder or npz"));
}

absl::Status check_test_fraction(DatasetFormat format, double test_fraction) {
  if (absl::Status status = check_test_fraction(test_fraction); !status.ok()) return status;
  if (test_fraction != 0 && format != DatasetFormat::kImageFolder) {
    return absl::InvalidArgumentError(
        "--test_fraction is for folder:DIR; the other formats have a test split of their own");
  }
  return absl::OkStatus();
}

absl::StatusOr<Dataset> load_dataset(DatasetFormat format, const std::string& path,
                                     double test_fraction) {
  absl::StatusOr<Dataset> data = read_any(format, path, test_fraction);
  if (!data.ok()) return data.status();
  for (const ImageSet* set : {&data->train, &data->test}) {
    if (absl::Status status = check_image_set(*set); !status.ok()) return status;
  }
  return data;
}

}  // namespace bitgrad
