// The embedded default of bit_finetune: a BiT-style transfer experiment, small enough for two
// CPU cores, on Fashion-MNIST's two halves.
//
//   upstream    an R50 (narrowed, see set_model in the .cc) trained from scratch on classes
//               0,1,3,8,9 (T-shirt/top, Trouser, Dress, Bag, Ankle boot), all 30000 images;
//               cached as a checkpoint, so a second run skips this stage (an unreadable
//               cached file is trained again)
//   transfer    that model, head replaced by a zero 5-way one, fine-tuned with the HyperRule
//               on 10 examples per class of classes 2,4,5,6,7 (Pullover, Coat, Sandal, Shirt,
//               Sneaker), evaluated on their 5000 test images
//   scratch     the same fine-tuning from a random initialisation, for the transfer gain
// Transfer and scratch run on ten few-shot draws (seeds seed to seed + 9); the gain is the mean
// of the draws' differences (both arms of a draw see the same images), with its standard error.
//
// From the user's RunConfig it takes dataset (Fashion-MNIST's folder), seed, workers, eval_every
// and out (subfolders upstream/, transfer/seed_S/, scratch/seed_S/); the other settings are the
// experiment's own, and check_transfer_experiment_flags refuses flags that set them.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "train/finetune.h"
#include "train/run_config.pb.h"

namespace bitgrad {

struct TransferResult {
  std::vector<FinetuneResult> transfer, scratch;  // one per few-shot draw
  std::string upstream_checkpoint;                // the cached upstream model
  std::vector<double> draw_gains() const;         // transfer - scratch top-1, per draw
  double mean_gain() const;                       // of the draw gains, as a fraction
  double gain_standard_error() const;             // of mean_gain, from the draw gains
};

// How long each stage runs; tests shorten it.
struct TransferSchedule {
  int64_t upstream_steps = 6000;
  int64_t downstream_steps = 0;  // 0: the HyperRule's, 500 updates for 50 images
  int few_shot_draws = 10;
};

absl::StatusOr<TransferResult> run_transfer_experiment(const RunConfig& config,
                                                       std::ostream& out,
                                                       const TransferSchedule& schedule = {});

// An error naming the first field, other than those the experiment takes, that the command line
// or the config file moved off its flag's default: a --batch=64 the experiment does not use
// must not look used.
absl::Status check_transfer_experiment_flags(const RunConfig& config);

// Where the upstream model is cached: $XDG_CACHE_HOME/bitgrad, else $HOME/.cache/bitgrad.
std::string bitgrad_cache_dir();

}  // namespace bitgrad
