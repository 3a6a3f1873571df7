// A whole bit_finetune run from its RunConfig: the dataset, the few-shot draw, the initial
// model, the fine-tuning loop, the official-layout weights at the end, and a summary; or, with
// eval_only, one evaluation of the weights as they are.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dist/communicator.h"
#include "io/atomic_file.h"
#include "train/finetune.h"
#include "train/run_config.pb.h"

namespace bitgrad {

// config.weights must be set ("random" or a file); an empty one is the transfer experiment
// (train/transfer_experiment.h). `world`: the processes of a data-parallel run (finetune()).
absl::StatusOr<FinetuneResult> run_finetune(const RunConfig& config, std::ostream& out,
                                            Communicator* world = nullptr);

// --device: "cpu" (or empty) is always fine; "cuda" fails where this build or machine has no
// usable GPU, saying why.
absl::Status check_device(const RunConfig& config);
// The device --device names (the CPU when empty); with cuda, the GPU of this process's local
// rank under an MPI launcher (dist/world.h), else cuda:0.
Device run_device(const RunConfig& config);

// The few-shot draw of config.examples_per_class (none when 0) from `data`'s train split.
absl::StatusOr<Dataset> few_shot_data(const Dataset& data, const RunConfig& config);

// What --save_weights writes beside the .npz, as an .npz has no place for it ("" where nothing
// was written): the class names (labels_path_beside; data/labels.h class_names_beside reads
// them back), and the model info (npz_model_info_path, models/predict.h): a narrowed model's
// width and groups, its loss, its input size.
struct SavedWeights {
  std::string labels, model_info;
};

// --save_weights: the model as an official-layout .npz at `path`, with its class names `names`
// (none: no labels file), the `loss` its head was trained with and the `input_resolution` its
// run evaluated at (0: unknown) beside it.
absl::StatusOr<SavedWeights> save_weights_and_class_names(const BitResNetV2& model,
                                                          const std::string& path,
                                                          const std::vector<std::string>& names,
                                                          const std::string& loss,
                                                          int64_t input_resolution);

// The files save_weights_and_class_names writes for `path` (none when empty), named for
// check_outputs_overwrite_nothing (io/atomic_file.h).
std::vector<FlagPath> save_weights_outputs(const std::string& path);

// The bit_predict command for an .npz that save_weights_and_class_names wrote (`labels`: its
// labels file, or "").
std::string bit_predict_command(const std::string& npz, const std::string& labels);

// "test top-1 81.20%, top-5 99.10% on 5000 images; 500 updates, 2:03 training, 260.1 images/s";
// after --resume "500 updates (380 after resuming at 120), ...": the time and speed are this
// process's ("500 updates (0 after resuming at 500), none left to make" when none were).
std::string summary_line(const FinetuneResult& result);

}  // namespace bitgrad
