// The model a run starts from (RunConfig.weights): official .npz weights, a bitgrad checkpoint
// or a random initialisation, with a head for the dataset's classes.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "models/bit_weights.h"
#include "train/run_config.pb.h"

namespace bitgrad {

// --weights=random builds config.model (base_width, num_groups; 0 = the official 64 and 32)
// from config.seed with a zero head. A file keeps its head when it has `num_classes` outputs
// and config.zero_head is off; otherwise the head is replaced by a zero one (BiT's recipe).
// With config.eval_only a file's head must have `num_classes` outputs. Under --loss=sigmoid a
// new head's bias starts at -log(K - 1), so each class's sigmoid starts at 1/K as the softmax
// of a zero head does. The message says what was loaded and what happened to the head.
absl::StatusOr<LoadedBitModel> initial_model(const RunConfig& config, int64_t num_classes);

}  // namespace bitgrad
