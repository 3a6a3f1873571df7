// A BiT training run <-> a native checkpoint (models/checkpoint.h): everything needed to resume
// exactly, and to rebuild the model from the checkpoint alone.
//
//   parameters, buffers   by module name ("body.block1.unit01.conv1.weight"), OIHW, the model's
//                         dtype
//   optimizer             Sgd momentum buffers by parameter name, steps taken, and the
//                         SgdOptions (proto::SgdOptions)
//   step, rng_state       the training loop's step; core/random.h Generator::state()
//   config                the run's configuration text, stored as given
//   model_name            the name ("BiT-M-R50x1", or the architecture "R50x1")
//   bit_config            the BitConfig (proto::BitConfig), so the model can be rebuilt
//   class_names           what each of the head's outputs means, when the run knew it
//   input_resolution      the input size the run evaluated at, for prediction
//
// Restoring checks the whole checkpoint against the live objects before changing any of them:
// every parameter and buffer present, none unexpected, shapes and dtypes equal, the optimizer's
// fixed hyperparameters equal, the RNG state readable. Errors are absl::Status messages naming
// the checkpoint file and the tensor or field at fault.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/random.h"
#include "models/bit_resnet_v2.h"
#include "models/bit_weights.h"
#include "models/checkpoint.h"
#include "models/module.h"
#include "optim/sgd.h"

namespace bitgrad {

// A training run, by pointer. `model` is required; `optimizer` and `generator` may be null (then
// they are neither saved nor restored).
struct TrainState {
  BitResNetV2* model = nullptr;
  Sgd* optimizer = nullptr;
  Generator* generator = nullptr;
  int64_t step = 0;     // restore sets it from the checkpoint
  std::string config;   // restore sets it from the checkpoint
  // Saved as the checkpoint's model_name; empty saves the architecture ("R50x1"). Restore sets it.
  std::string model_name;
  // The head's classes in order (a dataset's class_names), or empty. Restore sets it.
  std::vector<std::string> class_names;
  // The square input size the run evaluates at (0: unknown). Restore sets it.
  int64_t input_resolution = 0;
  // What the run computed with that its numbers depend on, by name ("threads", the training
  // set's fingerprint), kept in the checkpoint's metadata for a resumed run to compare. Restore
  // sets it (empty from older checkpoints).
  std::map<std::string, std::string> run_facts;
};

// Writes the run atomically (an existing file survives any failure).
absl::Status save_train_state(const std::string& path, const TrainState& state);

// Restores the run saved at `path` into the live objects of `state`, which must match it (build
// them with bit_config_from_checkpoint and saved_sgd_options). The optimizer's lr is taken from
// the checkpoint; its other hyperparameters must be equal. On error nothing is changed.
// `check_first`, when given, sees the checkpoint before anything else is checked: a caller's
// own refusal (another run's settings) comes before the objects' mismatches it explains.
absl::Status restore_train_state(
    const std::string& path, TrainState& state,
    const std::function<absl::Status(const Checkpoint&)>& check_first = nullptr);
// The same from a checkpoint already read (`path` labels messages): a caller that built the model
// from it need not read the file again.
absl::Status restore_train_state(
    const Checkpoint& checkpoint, const std::string& path, TrainState& state,
    const std::function<absl::Status(const Checkpoint&)>& check_first = nullptr);

// ------------------------------------------------------------------------------------------------
// The pieces, for tools that handle a Checkpoint themselves. `path` labels error messages.

// BitConfig <-> the checkpoint's bit_config message.
proto::BitConfig bit_config_to_proto(const BitConfig& config);
absl::StatusOr<BitConfig> bit_config_from_checkpoint(const Checkpoint& checkpoint,
                                                     const std::string& path);

// The Sgd options a checkpoint was saved with; an error when it holds no Sgd state.
absl::StatusOr<SgdOptions> saved_sgd_options(const Checkpoint& checkpoint,
                                             const std::string& path);

// Module parameters and buffers <-> a checkpoint, by dotted name. Restoring checks every name,
// shape and dtype first and copies only when all fit; it invalidates the module's caches.
void save_module_state(const Module& module, Checkpoint* checkpoint);
absl::Status restore_module_state(Module& module, const Checkpoint& checkpoint,
                                  const std::string& path);

// Builds a BitResNetV2 from a checkpoint alone (architecture from its bit_config, dtype from its
// parameters) and loads its parameters, class names and input resolution; optimizer state is
// ignored. A non-empty `model_name` ("BiT-M-R50x1", "R50x1") must name the checkpoint's
// architecture.
absl::StatusOr<LoadedBitModel> load_bit_model_from_checkpoint(const std::string& path,
                                                              const std::string& model_name = "");
// The same from a checkpoint already read; `path` labels messages.
absl::StatusOr<LoadedBitModel> bit_model_from_checkpoint(const Checkpoint& checkpoint,
                                                         const std::string& path,
                                                         const std::string& model_name = "");

}  // namespace bitgrad
