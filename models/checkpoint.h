// Native checkpoints (format: models/checkpoint.proto): parameters, buffers, optimizer state,
// step, RNG state, config and the model's architecture in one file, written atomically and
// checksummed, of any size. Format 1 files (settings in string maps) load as format 2.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "models/checkpoint.pb.h"

namespace bitgrad {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct OptimizerCheckpoint {
  std::string kind;  // "sgd"; empty when there is no optimizer state
  int64_t steps_taken = 0;
  std::optional<proto::SgdOptions> sgd;  // the settings, when kind is "sgd"
  NamedTensors tensors;
};

struct Checkpoint {
  std::string model_name;
  int64_t step = 0;
  NamedTensors parameters;
  NamedTensors buffers;
  OptimizerCheckpoint optimizer;
  std::string rng_state;
  std::string config;
  std::optional<proto::BitConfig> bit_config;  // the architecture, when it holds a BiT model
  std::map<std::string, std::string> metadata;  // free-form notes
  std::vector<std::string> class_names;          // the head's classes, when known
  int64_t input_resolution = 0;                  // the run's eval input size; 0: unknown
};

// Writes atomically: an existing file at `path` survives any failure. Tensors may be on any
// device; they are written in plain row-major order.
absl::Status save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Reads a checkpoint into CPU tensors, verifying sizes, checksums and that its counts (step,
// steps_taken, input_resolution) are not negative. Errors name the file and, where one is at
// fault, the tensor or field.
absl::StatusOr<Checkpoint> load_checkpoint(const std::string& path);

// The same without the tensors (their lists stay empty and their bytes unread): a checkpoint's
// settings, step and classes at the cost of its header alone.
absl::StatusOr<Checkpoint> load_checkpoint_header(const std::string& path);

// Whether the file starts with the checkpoint magic (as opposed to, say, an .npz zip).
bool is_checkpoint_file(const std::string& path);

}  // namespace bitgrad
