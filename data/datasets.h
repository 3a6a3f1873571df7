// One entry point over every dataset reader, for a --dataset=FORMAT:PATH flag (parse_dataset_spec
// in train/run_config.h). Each format's own header says what the files look like.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "data/image_set.h"

namespace bitgrad {

enum class DatasetFormat {
  kMnist,         // a directory of idx files (data/idx_dataset.h), gzipped or not; classes "0".."9"
  kFashionMnist,  // the same layout, with Fashion-MNIST's class names
  kCifar10,       // data/cifar.h
  kCifar100,
  kImageFolder,   // data/image_folder.h: path/train and path/test (or path/val), or class
                  // folders in path itself, part of each held out (test_fraction)
  kKerasNpz,      // data/keras_npz.h
};

// "mnist", "fashion_mnist", "cifar10", "cifar100", "folder", "npz".
absl::StatusOr<DatasetFormat> parse_dataset_format(const std::string& name);

// Reads both splits and checks them (check_image_set). Errors name the file or folder.
// `test_fraction` > 0 holds out part of an image folder that has no train/ and test/ as its
// test split (load_image_folders); the other formats have a test split of their own.
absl::StatusOr<Dataset> load_dataset(DatasetFormat format, const std::string& path,
                                     double test_fraction = 0);

// OK when `test_fraction` may go with `format`: a fraction in [0, 1), and 0 for every format but
// the image folder (the others have a test split of their own).
absl::Status check_test_fraction(DatasetFormat format, double test_fraction);

}  // namespace bitgrad
