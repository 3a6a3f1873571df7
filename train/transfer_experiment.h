// The embedded default of bit_finetune: a BiT-style transfer experiment, small enough for two
// CPU cores, on Fashion-MNIST's two halves.
//
//   upstream    an R50 (narrowed, see set_model in the .cc) trained from scratch on classes
//               0,1,2,5,8 (T-shirt/top, Trouser, Pullover, Sandal, Bag), all 30000 images;
//               cached as a checkpoint, so a second run skips this stage
//   transfer    that model, head replaced by a zero 5-way one, fine-tuned with the HyperRule
//               on 10 examples per class of classes 3,4,6,7,9 (Dress, Coat, Shirt, Sneaker,
//               Ankle boot), evaluated on their 5000 test images
//   scratch     the same fine-tuning from a random initialisation, for the transfer gain
//
// From the user's RunConfig it takes seed, workers, eval_every and out (subfolders upstream/,
// transfer/, scratch/); the other settings are the experiment's own and are printed.
#pragma once

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "train/finetune.h"
#include "train/run_config.pb.h"

namespace bitgrad {

struct TransferResult {
  FinetuneResult transfer, scratch;
  std::string upstream_checkpoint;  // the cached upstream model
};

absl::StatusOr<TransferResult> run_transfer_experiment(const RunConfig& config,
                                                       std::ostream& out);

// Where the upstream model is cached: $XDG_CACHE_HOME/bitgrad, else $HOME/.cache/bitgrad.
std::string bitgrad_cache_dir();

}  // namespace bitgrad
