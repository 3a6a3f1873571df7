// The labeled images every reader produces (idx, CIFAR, image folders, Keras .npz) and the
// Loader consumes: either decoded pixels held in memory, or image files decoded on demand.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "data/image_io.h"

namespace bitgrad {

// A file an image-folder reader passed over.
struct SkippedFile {
  std::string path;
  // For a file named as an image (.jpg, .jpeg, .png, .webp), what it holds instead ("a HEIF
  // image", "an empty file"; data/image_io.h not_a_decodable_image); "" for a file named
  // otherwise.
  std::string holds;
  // In the folder of class folders itself, not in a class (a loose photo, a broken link).
  bool outside_class_folders = false;

  bool operator==(const SkippedFile& other) const {
    return path == other.path && holds == other.holds &&
           outside_class_folders == other.outside_class_folders;
  }
};

struct ImageSet {
  std::string source;                   // the file or folder it came from, for messages
  Tensor pixels;                        // uint8 (N, H, W, C), C = 1 (gray) or 3 (RGB); or undefined
  std::vector<std::string> files;       // image files, when `pixels` is undefined
  std::vector<int64_t> labels;          // N class indices in [0, class_names.size())
  std::vector<std::string> class_names;
  std::vector<SkippedFile> skipped_files;  // files of `source` a reader passed over (an image
                                           // folder's non-images); not carried by subset()
  // For files: the one whose size stands for the set's, the first file of the set a reader
  // made; a subset keeps its parent's, so that the HyperRule sees the same size whatever a
  // seed drew. Empty: files[0].
  std::string size_file;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  // "train.bin[12]" or the image file: where example i came from.
  std::string name(int64_t i) const;
  // Example i as 8-bit RGB; gray is replicated to R = G = B. Errors name the file. A JPEG file
  // may be decoded smaller, down to `at_least` (image_io.h DecodeSize).
  absl::StatusOr<Image> image(int64_t i, DecodeSize at_least = {}) const;
  // (height, width) of the images, decoding size_file's header when the set is files: the size
  // the HyperRule looks at. Image folders may mix sizes; their first image stands for all of
  // them, in every subset too.
  absl::StatusOr<std::pair<int64_t, int64_t>> first_image_size() const;
  // The examples at `indices`, in that order (a few-shot subset), with this set's size_file.
  ImageSet subset(const std::vector<int64_t>& indices) const;
  // FNV-1a over the labels and the images (the files' paths below `source`, or the pixels by
  // 8-byte words), the same on every machine: a resumed run compares it with its checkpoint's,
  // as its batches follow the uninterrupted run's only on the same data.
  uint64_t fingerprint() const;
};

// Checks what readers promise: pixels (N, H, W, C) uint8 with C in {1, 3}, or N files; N labels
// in range. Errors name `set.source`.
absl::Status check_image_set(const ImageSet& set);

struct Dataset {
  ImageSet train, test;
  std::vector<std::string> notes;  // what a reader chose that a user should hear of, one a line
};

}  // namespace bitgrad
