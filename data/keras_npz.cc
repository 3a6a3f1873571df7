#include "data/keras_npz.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/labels.h"
#include "io/npz.h"

namespace bitgrad {
namespace {

// `key` as `dtype` when its values convert exactly (uint8 images, any integer labels).
absl::StatusOr<Tensor> read_array(const NpzReader& npz, const std::string& key, DType dtype,
                                  const std::string& expected) {
  const NpzArrayInfo* info = npz.find(key);
  if (info == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        npz.path(), ": no array '", key, "'; expected x_train, y_train, x_test and y_test"));
  }
  absl::StatusOr<Tensor> array = npz.read(key);
  if (!array.ok()) return array.status();
  absl::StatusOr<Tensor> converted = npy_array_as(*array, info->stored, dtype, key);
  if (!converted.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        npz.path(), ":", key, ": ", info->stored.numpy_name(), " ('", info->stored.descr(),
        "') ", info->shape.str(), ", expected ", expected));
  }
  return converted;
}

constexpr char kExpectedImages[] = "uint8 images (N, H, W) or (N, H, W, C) with C = 1 or 3";

// (N, H, W) or (N, H, W, C) uint8 into (N, H, W, C).
absl::StatusOr<Tensor> as_images(const Tensor& x, const std::string& where) {
  const bool gray = x.dim() == 3;
  const bool channels = x.dim() == 4 && (x.size(3) == 1 || x.size(3) == 3);
  if (!(gray || channels)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": shape ", x.shape().str(), ", expected ", kExpectedImages));
  }
  if (gray) return x.view({x.size(0), x.size(1), x.size(2), 1});
  return x;
}

// int64 (N) or (N, 1) into values.
absl::StatusOr<std::vector<int64_t>> as_labels(const Tensor& y, int64_t count,
                                               const std::string& where) {
  if (!(y.dim() == 1 || (y.dim() == 2 && y.size(1) == 1)) || y.size(0) != count) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": shape ", y.shape().str(),
                                                   ", expected (", count, ") or (", count,
                                                   ", 1), one label per image"));
  }
  std::vector<int64_t> labels = y.to_vector<int64_t>();
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": label ", labels[i], " at index ", i, " is negative"));
    }
    if (labels[i] >= kMaxKerasClasses) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": label ", labels[i], " at index ", i, " is not a class index: labels are 0 .. "
          "K-1, with K at most ", kMaxKerasClasses, " (ImageNet-21k has 21843)"));
    }
  }
  return labels;
}

absl::StatusOr<ImageSet> read_split(const NpzReader& npz, const std::string& split) {
  const std::string x_key = "x_" + split, y_key = "y_" + split;
  absl::StatusOr<Tensor> x = read_array(npz, x_key, DType::kUInt8, kExpectedImages);
  if (!x.ok()) return x.status();
  absl::StatusOr<Tensor> y = read_array(npz, y_key, DType::kInt64, "integer labels");
  if (!y.ok()) return y.status();
  ImageSet set;
  set.source = absl::StrCat(npz.path(), ":", x_key);
  absl::StatusOr<Tensor> pixels = as_images(*x, set.source);
  if (!pixels.ok()) return pixels.status();
  absl::StatusOr<std::vector<int64_t>> labels =
      as_labels(*y, pixels->size(0), absl::StrCat(npz.path(), ":", y_key));
  if (!labels.ok()) return labels.status();
  set.pixels = *std::move(pixels);
  set.labels = *std::move(labels);
  return set;
}

// The names in the labels file beside `path` (data/labels.h) when there is one, which must name
// every label; else "0" .. "K-1".
absl::StatusOr<std::vector<std::string>> class_names_for(const std::string& path,
                                                         int64_t max_label) {
  const std::string labels = labels_path_beside(path);
  std::error_code ignored;
  if (!std::filesystem::exists(labels, ignored)) {
    std::vector<std::string> numbers;
    for (int64_t c = 0; c <= max_label; ++c) numbers.push_back(absl::StrCat(c));
    return numbers;
  }
  absl::StatusOr<std::vector<std::string>> names = read_label_names(labels);
  if (!names.ok()) return names.status();
  if (static_cast<int64_t>(names->size()) <= max_label) {
    return absl::InvalidArgumentError(absl::StrCat(
        labels, ": ", names->size(), " class names, but ", path, " has labels up to ", max_label,
        " (one name per line, line i naming label i)"));
  }
  return names;
}

// A note naming the labels up to the largest that no training image has: the model cannot
// learn those classes, and their test images all count as errors (a y_test counted from 1 beside
// a y_train from 0, or labels with gaps, do it). The names a labels file may add past the
// largest label are not counted: naming more classes than the labels use is allowed.
std::vector<std::string> untrained_labels_note(const std::string& path, const ImageSet& train,
                                               const ImageSet& test, int64_t max_label) {
  constexpr size_t kNamed = 10;  // labels named in full; gaps can be a million wide
  std::vector<int64_t> train_images(max_label + 1, 0), test_images(max_label + 1, 0);
  for (int64_t label : train.labels) ++train_images[label];
  for (int64_t label : test.labels) ++test_images[label];
  std::vector<int64_t> untrained;
  int64_t tested = 0;
  for (int64_t label = 0; label <= max_label; ++label) {
    if (train_images[label] > 0) continue;
    untrained.push_back(label);
    tested += test_images[label];
  }
  if (untrained.empty()) return {};
  std::string labels = absl::StrJoin(untrained.begin(),
                                     untrained.begin() + std::min(untrained.size(), kNamed), ", ");
  if (untrained.size() > kNamed) {
    absl::StrAppend(&labels, " and ", untrained.size() - kNamed, " more");
  }
  return {absl::StrCat(path, ":y_train: no image of label(s) ", labels, ", so the model cannot "
                       "learn them (y_test has ", tested, tested == 1 ? " image" : " images",
                       " of them); are the labels of both splits counted from 0, without gaps?")};
}

}  // namespace

absl::StatusOr<Dataset> read_keras_npz(const std::string& path) {
  absl::StatusOr<std::unique_ptr<NpzReader>> npz = NpzReader::open(path);
  if (!npz.ok()) return npz.status();
  absl::StatusOr<ImageSet> train = read_split(**npz, "train");
  if (!train.ok()) return train.status();
  absl::StatusOr<ImageSet> test = read_split(**npz, "test");
  if (!test.ok()) return test.status();
  int64_t max_label = 0;
  for (const ImageSet* set : {&*train, &*test}) {
    for (int64_t label : set->labels) max_label = std::max(max_label, label);
  }
  absl::StatusOr<std::vector<std::string>> names = class_names_for(path, max_label);
  if (!names.ok()) return names.status();
  if (names->size() < 2) {  // as load_image_folders refuses one class folder
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": every label in y_train and y_test is 0, so one class; a classifier needs two or "
        "more"));
  }
  train->class_names = test->class_names = *std::move(names);
  std::vector<std::string> notes = untrained_labels_note(path, *train, *test, max_label);
  return Dataset{*std::move(train), *std::move(test), std::move(notes)};
}

}  // namespace bitgrad
