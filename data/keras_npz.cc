#include "data/keras_npz.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "io/npz.h"

namespace bitgrad {
namespace {

absl::StatusOr<Tensor> read_array(const NpzReader& npz, const std::string& key) {
  if (npz.find(key) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        npz.path(), ": no array '", key, "'; expected x_train, y_train, x_test and y_test"));
  }
  return npz.read(key);
}

// (N, H, W) or (N, H, W, C) uint8 into (N, H, W, C).
absl::StatusOr<Tensor> as_images(const Tensor& x, const std::string& where) {
  const bool gray = x.dim() == 3;
  const bool channels = x.dim() == 4 && (x.size(3) == 1 || x.size(3) == 3);
  if (x.dtype() != DType::kUInt8 || !(gray || channels)) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": ", dtype_name(x.dtype()), " ", x.shape().str(),
        ", expected uint8 images (N, H, W) or (N, H, W, C) with C = 1 or 3"));
  }
  if (gray) return x.view({x.size(0), x.size(1), x.size(2), 1});
  return x;
}

// Integer (N) or (N, 1) into int64 values.
absl::StatusOr<std::vector<int64_t>> as_labels(const Tensor& y, int64_t count,
                                               const std::string& where) {
  if (is_floating(y.dtype())) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": dtype ", dtype_name(y.dtype()), ", expected integer labels"));
  }
  if (!(y.dim() == 1 || (y.dim() == 2 && y.size(1) == 1)) || y.size(0) != count) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": shape ", y.shape().str(),
                                                   ", expected (", count, ") or (", count,
                                                   ", 1), one label per image"));
  }
  std::vector<int64_t> labels = y.to(DType::kInt64).to_vector<int64_t>();
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": label ", labels[i], " at index ", i, " is negative"));
    }
  }
  return labels;
}

absl::StatusOr<ImageSet> read_split(const NpzReader& npz, const std::string& split) {
  const std::string x_key = "x_" + split, y_key = "y_" + split;
  absl::StatusOr<Tensor> x = read_array(npz, x_key);
  if (!x.ok()) return x.status();
  absl::StatusOr<Tensor> y = read_array(npz, y_key);
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
  std::vector<std::string> names;
  for (int64_t c = 0; c <= max_label; ++c) names.push_back(absl::StrCat(c));
  train->class_names = test->class_names = names;
  return Dataset{*std::move(train), *std::move(test)};
}

}  // namespace bitgrad
