// The official BiT checkpoints (.npz, bit.md §2) <-> BitResNetV2.
//
// Keys and shapes come from bit_param_specs() (models/bit_resnet_v2.h), the one table that maps
// module names to npz keys. 4-D kernels are stored HWIO in the file and OIHW in the model:
//   model[o][i][h][w] = file[h][w][i][o]   (numpy transpose (3, 2, 0, 1); the head's (1,1,C,K)
//   kernel becomes (K,C,1,1)). 1-D arrays (GroupNorm gamma/beta, head bias) are used as stored.
//
// Loading checks the whole file against the model before touching it: every expected key
// present, no unexpected key, every shape and dtype right (float32, or float64). Errors are
// absl::Status messages naming the file and the key (and for shapes, the expected and found
// shape). Then every array is read and converted, and only when all have been read are they
// copied into the model, so a failed load (say, a truncated file) leaves the model unchanged.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "io/npz.h"
#include "models/bit_resnet_v2.h"

namespace bitgrad {

struct BitLoadOptions {
  // Zero the head (weight and bias) instead of loading it: the fine-tuning recipe
  // (zero_head=True in the official code). The file's head arrays may then be absent.
  bool zero_head = false;
};

// Loads `path` into `model`, whose architecture must match the file's body. A head of another
// size than the model's is not loaded: the model's head is zeroed instead, and the returned
// message says so. Returns a one-line summary of what was loaded.
absl::StatusOr<std::string> load_bit_weights(BitResNetV2& model, const std::string& path,
                                             const BitLoadOptions& options = {});

// The architecture an .npz holds: depth from the number of units per block, width factor from
// the root kernel (its out channels / base_width), head size from the head bias. base_width and
// num_groups cannot be read from a file; real checkpoints use the defaults.
absl::StatusOr<BitConfig> infer_bit_config(
    const NpzReader& reader, int64_t base_width = BitConfig::kOfficialBaseWidth,
    int64_t num_groups = BitConfig::kOfficialNumGroups);

struct BitModelOptions {
  // "BiT-M-R50x1", "R101x3", ...; empty: take the architecture from the file. A name whose
  // architecture differs from the file's is an error.
  std::string model_name;
  // The model's head size; 0 keeps the file's. Another size than the file's gives a zero head.
  int64_t head_size = 0;
  bool zero_head = false;
  uint64_t seed = 0;
  // Test-only knobs, see BitConfig.
  int64_t base_width = BitConfig::kOfficialBaseWidth;
  int64_t num_groups = BitConfig::kOfficialNumGroups;
};

struct LoadedBitModel {
  std::shared_ptr<BitResNetV2> model;
  std::string message;  // what was loaded, and what happened to the head
  // What the file records beyond the weights (a checkpoint of a bitgrad run; an .npz records
  // neither): the head's classes in order, and the input size the run evaluated at (0: unknown).
  std::vector<std::string> class_names;
  int64_t input_resolution = 0;
  std::string run_config;  // a checkpoint's RunConfig textproto (train/run_config.proto)
};

// Builds a BitResNetV2 for `path` and loads it.
absl::StatusOr<LoadedBitModel> load_bit_model(const std::string& path,
                                              const BitModelOptions& options = {});

// Writes `model` in the official layout: resnet/... keys, HWIO kernels, the parameters' dtype
// (float32 for an official file). npz -> load -> save gives back the same arrays bit for bit.
absl::Status save_bit_weights(const BitResNetV2& model, const std::string& path,
                              NpzCompression compression = NpzCompression::kStored);

// Layout conversions of 4-D kernels (any dtype; bit-exact copies); other ranks are returned as
// they are.
Tensor hwio_to_oihw(const Tensor& kernel);
Tensor oihw_to_hwio(const Tensor& kernel);
// The shape an array of the model's shape has in the file.
Shape npz_layout_shape(const Shape& model_shape);

}  // namespace bitgrad
