// One optimizer update of BiT fine-tuning, as the reference loop does it (bit.md §3.2):
//   mixup draws lam once for the update (when on);
//   each micro-batch is mixed with its own permutation, run forward, and its loss divided by
//   the number of micro-batches is back-propagated, so the gradients sum to those of the mean
//   loss over the whole batch (GroupNorm has no batch statistics, so micro-batches change
//   nothing but float summation order, and mixup's pairs stay inside a micro-batch);
//   then one Sgd step at `lr`, and the gradients are dropped.
// A NaN or Inf in the loss or in a gradient stops the update before the step, so the model and
// the optimizer keep their last finite state. A step that leaves a parameter non-finite (a
// finite gradient times a too large lr) is reported after it: that model must not be saved.
//
// Data parallelism: the update's micro-batches are spread over the processes, each taking a run
// of consecutive ones. A process's loss is divided by the micro-batch count of the whole update,
// its last backward hands each finished gradient to the GradientReducer, which sums them over
// the processes while backward goes on, and the losses are summed too. Mixup draws lam once and
// the permutations of all the update's micro-batches, skipping the other processes', so N
// processes make the updates of one process with N times the micro-batches.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "core/random.h"
#include "data/loader.h"
#include "data/mixup.h"
#include "dist/communicator.h"
#include "dist/gradient_reducer.h"
#include "models/bit_resnet_v2.h"
#include "ops/loss.h"
#include "optim/sgd.h"

namespace bitgrad {

// This process's part of a data-parallel update.
struct DataParallelShard {
  Communicator* world = nullptr;
  GradientReducer* reducer = nullptr;  // over the model's parameters, in model order
  int64_t first_micro_batch = 0;       // this process's first, among the update's
  int64_t micro_batches_per_update = 0;
};

// Returns the update's loss (`loss_of` the logits and targets): the mean of the micro-batches'
// (mixed) losses, before the step.
// Fails with InvalidArgument, without stepping, when the loss or a gradient is not finite; the
// message names the first parameter (in model order) whose gradient is not finite. Fails with
// InvalidArgument after stepping when a parameter is not finite, naming the first.
// With `shard`, the micro-batches are this process's, and the loss is the whole update's.
absl::StatusOr<double> train_update(BitResNetV2& model, Sgd& sgd, double lr,
                                    const std::vector<Batch>& micro_batches, Mixup& mixup,
                                    Generator& generator,
                                    const DataParallelShard* shard = nullptr,
                                    LossFunction loss_of = cross_entropy);

}  // namespace bitgrad
