// The inputs of a prediction run (examples/bit_predict): image files, preprocessed with BiT's eval
// rule (data/bit_preprocess.h: resize to resolution x resolution, no centre crop, [-1, 1]), or a
// batch that is already preprocessed, in a .npy file.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "data/bit_preprocess.h"
#include "data/image_io.h"

namespace bitgrad {

// The paths of an --input spec: its comma-separated parts, whitespace trimmed, empty ones left
// out; \, is a comma inside a name, and a spec that names an existing file is that one file.
std::vector<std::string> input_paths(const std::string& spec);

class PredictionInputs {
 public:
  // `spec`: one .npy file holding a float32 (N, 3, H, W) batch already in [-1, 1] (it is used as
  // it is: `resolution` does not apply), or comma-separated PNG/JPEG/WebP files and folders, a
  // folder standing for its image files and then those of the folders below it, in the order
  // of list_image_files, hidden ones aside (decoded lazily by batch()). Checks now that every file
  // exists, that every folder holds images, and that the .npy batch has the right shape and
  // dtype; errors name the file.
  static absl::StatusOr<PredictionInputs> open(const std::string& spec, int64_t resolution);

  int64_t size() const { return count_; }
  // A label per input for printing: the image's path, or "batch.npy[i]".
  std::string name(int64_t index) const;
  // "3 image files, resized to 128x128" / "batch.npy: (2, 3, 128, 128) float32"
  const std::string& description() const { return description_; }
  // Notes worth printing that are not errors, e.g. a .npy batch whose values leave [-1, 1].
  const std::vector<std::string>& warnings() const { return warnings_; }

  // Inputs [begin, end) as a float32 (end - begin, 3, H, W) tensor. With `unreadable`, an image
  // that does not decode (a file cut short) is left at zeros and added there as (index, why)
  // instead of failing the batch, so that one bad photo does not cost the others' predictions.
  absl::StatusOr<Tensor> batch(
      int64_t begin, int64_t end,
      std::vector<std::pair<int64_t, std::string>>* unreadable = nullptr) const;

 private:
  PredictionInputs() = default;

  std::vector<std::string> image_paths_;  // empty for a .npy batch
  std::string npy_path_;
  Tensor npy_batch_;
  int64_t resolution_ = 0;
  int64_t count_ = 0;
  std::string description_;
  std::vector<std::string> warnings_;
};

}  // namespace bitgrad
