// The IDX format of MNIST and Fashion-MNIST (optionally gzipped), and Fashion-MNIST as Debian's
// dataset-fashion-mnist package installs it.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "core/tensor.h"

namespace bitgrad {

struct LabeledImages {
  Tensor images;  // uint8 (N, H, W)
  Tensor labels;  // int64 (N)
};

// Reads an IDX image file (magic 0x803: uint8, 3 dims) and its IDX label file (magic 0x801).
// Errors name the file and what is wrong (missing, bad magic, truncated, count mismatch).
absl::StatusOr<LabeledImages> read_idx_dataset(const std::string& images_path,
                                               const std::string& labels_path);

inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";
inline constexpr const char* kFashionMnistClasses[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// split: "train" (60000 images) or "test" (10000), 28x28 grayscale.
absl::StatusOr<LabeledImages> load_fashion_mnist(const std::string& split,
                                                 const std::string& dir = kFashionMnistDir);

}  // namespace bitgrad
