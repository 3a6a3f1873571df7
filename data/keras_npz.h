// Keras-style .npz datasets (keras.datasets.mnist's mnist.npz and the like): four arrays,
//   x_train, x_test: uint8 images (N, H, W) gray or (N, H, W, C) with C = 1 or 3;
//   y_train, y_test: labels (N) or (N, 1) of any integer dtype, values 0 .. K-1.
// K is the largest label + 1 over both splits (Dataset::notes names the labels below K that no
// training image has: the model cannot learn them); the classes are named "0" .. "K-1", or by the
// labels file beside the .npz when there is one (FILE.labels.txt for FILE.npz, one name per
// line, data/labels.h; it may name more classes than the labels use). Either byte order and
// Fortran-order arrays are fine (io/npy.h).
//
// This is the only data/ file that reads .npz, so moving the npz API touches one file.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "data/image_set.h"

namespace bitgrad {

// The most classes a Keras .npz may have: a larger label is a stray value (a sentinel, an id),
// not a class index, and would make a head (and class names) of that many classes.
inline constexpr int64_t kMaxKerasClasses = 1000000;

// Errors name the file and the array: missing, wrong dtype or shape, mismatched counts,
// negative labels or labels of kMaxKerasClasses and up, one class only.
absl::StatusOr<Dataset> read_keras_npz(const std::string& path);

}  // namespace bitgrad
