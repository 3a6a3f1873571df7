// Native checkpoints (format: models/checkpoint.proto): parameters, buffers, optimizer state,
// step, RNG state and config in one file, written atomically and checksummed, of any size.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"

namespace bitgrad {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct OptimizerCheckpoint {
  std::string kind;  // "sgd"; empty when there is no optimizer state
  int64_t steps_taken = 0;
  std::map<std::string, double> hyperparameters;
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
  std::map<std::string, std::string> metadata;
};

// Writes atomically: an existing file at `path` survives any failure. Tensors may be on any
// device; they are written in plain row-major order.
absl::Status save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Reads a checkpoint into CPU tensors, verifying sizes and checksums. Errors name the file and,
// where one is at fault, the tensor.
absl::StatusOr<Checkpoint> load_checkpoint(const std::string& path);

// Whether the file starts with the checkpoint magic (as opposed to, say, an .npz zip).
bool is_checkpoint_file(const std::string& path);

}  // namespace bitgrad
