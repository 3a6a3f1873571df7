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
// an .npz's are in FILE.labels.txt beside it, when there is one), and config.zero_head is off;
// otherwise the head is replaced by a zero one (BiT's recipe). With config.eval_only the head
// must be kept: other classes are an error.
// Under --loss=sigmoid a new head's bias starts at -log(K - 1), so each class's sigmoid starts at
// 1/K as the softmax of a zero head does. The message says what was loaded and what happened to
// the head.
absl::StatusOr<LoadedBitModel> initial_model(const RunConfig& config,
                                             const std::vector<std::string>& class_names);

// "" when `file` names no classes or the same ones as `dataset`, in order (either side having
// only index names, "0" .. "K-1", counts as naming none); else the first difference: "class 2
// is \"cat\" there and \"kitten\" here", or "5 classes there, 3 here".
std::string class_names_difference(const std::vector<std::string>& file,
                                   const std::vector<std::string>& dataset);

}  // namespace bitgrad
