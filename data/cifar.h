// CIFAR-10 and CIFAR-100 in their "binary version" (cifar-10-batches-bin, cifar-100-binary).
//
// Each file is a run of fixed-size records: the label byte(s), then 3072 pixel bytes, the red,
// green and blue 32x32 planes one after the other, rows top to bottom.
//   CIFAR-10:  <label 0..9> <pixels>                          (3073 bytes)
//   CIFAR-100: <coarse label 0..19> <fine label 0..99> <pixels> (3074 bytes); we use the fine one
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/image_set.h"

namespace bitgrad {

enum class CifarKind { kCifar10, kCifar100 };

// Reads the records of `files` in order into (N, 32, 32, 3) RGB pixels with class names.
// Errors name the file: missing, empty, a size that is not a whole number of records, a label
// out of range (with the record index).
absl::StatusOr<ImageSet> read_cifar_files(CifarKind kind, const std::vector<std::string>& files);

// The files in an extracted archive's folder (`dir`, or the archive's folder in it:
// cifar-10-batches-bin/, cifar-100-binary/):
//   CIFAR-10:  data_batch_1.bin .. data_batch_5.bin, test_batch.bin; names from batches.meta.txt
//   CIFAR-100: train.bin, test.bin; names from fine_label_names.txt
// Without the names file the classes are named "0", "1", ... A folder of the Python version
// (pickled batches) or of the other CIFAR is an error that says so.
absl::StatusOr<Dataset> load_cifar(CifarKind kind, const std::string& dir);

}  // namespace bitgrad
