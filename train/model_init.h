// The model a run starts from (RunConfig.weights): official .npz weights, a bitgrad checkpoint
// or a random initialisation, with a head for the dataset's classes.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/bit_weights.h"
#include "train/run_config.pb.h"

namespace bitgrad {

// --weights=random builds config.model (base_width, num_groups; 0 = the official 64 and 32)
// from config.seed with a zero head for the dataset's `class_names`. A file keeps its head when
// it has one output per class, names none of them otherwise (a checkpoint records its classes;
// an .npz does not), and config.zero_head is off; otherwise the head is replaced by a zero one
// (BiT's recipe). With config.eval_only the head must be kept: other classes are an error.
// Under --loss=sigmoid a new head's bias starts at -log(K - 1), so each class's sigmoid starts at
// 1/K as the softmax of a zero head does. The message says what was loaded and what happened to
// the head.
absl::StatusOr<LoadedBitModel> initial_model(const RunConfig& config,
                                             const std::vector<std::string>& class_names);

}  // namespace bitgrad
