// The fine-tuning loop of bit_finetune: BiT-HyperRule SGD with micro-batches and mixup,
// periodic evaluation, JSON-lines metrics, checkpoints, and exact resume.
//
// Files in config.out (none when it is empty):
//   metrics.jsonl    train/loss and train/lr after every update, test/{top1,top5,loss} at evals
//   checkpoint.ckpt  written atomically at every eval: weights, momentum, the mixup RNG, the
//                    step and the run's config, everything --resume needs; and the
//                    dataset's class names and the input size, for prediction
// A resumed run sees the batches, augmentations and mixup draws it would have seen, so its
// losses are bit-identical to an uninterrupted run's (tests/train/resume_test.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>

#include "absl/status/statusor.h"
#include "data/bit_preprocess.h"
#include "data/image_set.h"
#include "dist/communicator.h"
#include "dist/gradient_reducer.h"
#include "models/bit_resnet_v2.h"
#include "models/checkpoint.h"
#include "optim/lr_schedule.h"
#include "train/evaluate.h"
#include "train/run_config.pb.h"

namespace bitgrad {

// What a run does, once the HyperRule has filled in what the config leaves to it.
struct FinetunePlan {
  int64_t steps;           // optimizer updates
  double mixup_alpha;      // 0: off
  Resolution resolution;   // train path: precrop and crop; eval: crop
  WarmupStaircase schedule;
};

// The HyperRule for `train` (its size after any few-shot draw, its image size: that of the
// first image of the set it was drawn from, ImageSet::first_image_size),
// overridden by config.steps, mixup_alpha (>= 0), resolution and schedule ("constant", or
// "upstream": optim/lr_schedule.h).
//
// config.augment picks the train path:
//   bit    BiT's: resize to the precrop size (x 1.25 the crop for small images), random crop,
//          random flip;
//   shift  resize to the crop size, move the window up to crop/8 pixels each way (what leaves
//          the image reads black), random flip: translations at the eval path's scale, for
//          small images that fill the frame (BiT's crop cuts their edges off);
//   flip   resize to the crop size, random flip;
//   inception  BiT's upstream path: a random box of 8-100% of the image's area, aspect ratio
//          3/4 to 4/3, resized to the crop size, random flip (data/bit_preprocess.h);
//   none   the eval path.
absl::StatusOr<FinetunePlan> plan_finetune(const RunConfig& config, const ImageSet& train);

// The evaluations of a run at `resolution`: config.eval_batch (0: config.batch), workers, loss
// and eval_flip.
EvalOptions eval_options(const RunConfig& config, int64_t resolution);

struct FinetuneResult {
  EvalResult test;                 // the final evaluation
  int64_t steps = 0;               // updates done, in this process and before a resume
  int64_t resumed_at = 0;          // the step this process started from (0 without --resume)
  int64_t resolution = 0;          // the input size it trained and evaluated at (0: no training)
  double train_seconds = 0;        // in updates, this process, evaluations excluded
  double images_per_second = 0;    // training images (all processes') per train second
  ReducerStats all_reduce;         // data parallelism only: the gradient all-reduce's cost
};

// Trains `model` (whose head has data.train's classes) on data.train and evaluates on data.test
// every config.eval_every updates and at the end. Progress and results go to `out`.
//
// With a `world` of N processes (dist/world.h), each holds a replica and takes its share of
// every update: the update's batch is cut into config.batch_split micro-batches rounded up to a
// multiple of N, and each process takes a run of them, so N processes make the updates of one
// process with that many micro-batches (train/update.h). Only rank 0 writes config.out;
// evaluation is split over the processes too.
//
// With config.resume, `resumed` is config.out's checkpoint as the caller read it to build the
// model (empty: finetune reads it); it is freed once restored.
absl::StatusOr<FinetuneResult> finetune(BitResNetV2& model, const Dataset& data,
                                        const RunConfig& config, std::ostream& out,
                                        Communicator* world = nullptr,
                                        std::optional<Checkpoint> resumed = std::nullopt);

}  // namespace bitgrad
