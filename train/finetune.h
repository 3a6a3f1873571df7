// The fine-tuning loop of bit_finetune: BiT-HyperRule SGD with micro-batches and mixup,
// periodic evaluation, JSON-lines metrics, checkpoints, and exact resume.
//
// Files in config.out (none when it is empty):
//   metrics.jsonl    train/loss and train/lr after every update, test/{top1,top5,loss} at evals
//   checkpoint.ckpt  written atomically at every eval: weights, momentum, the mixup RNG, the
//                    step and the run's config, everything --resume needs
// A resumed run sees the batches, augmentations and mixup draws it would have seen, so its
// losses are bit-identical to an uninterrupted run's (tests/train/resume_test.cc).
#pragma once

#include <cstdint>
#include <ostream>

#include "absl/status/statusor.h"
#include "data/bit_preprocess.h"
#include "data/image_set.h"
#include "models/bit_resnet_v2.h"
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

// The HyperRule for `train` (its size after any few-shot draw, its first image's size),
// overridden by config.steps, mixup_alpha (>= 0), resolution and schedule = "constant".
absl::StatusOr<FinetunePlan> plan_finetune(const RunConfig& config, const ImageSet& train);

struct FinetuneResult {
  EvalResult test;                 // the final evaluation
  int64_t steps = 0;               // updates done, in this process and before a resume
  double train_seconds = 0;        // in updates, this process, evaluations excluded
  double images_per_second = 0;    // training images per train second
};

// Trains `model` (whose head has data.train's classes) on data.train and evaluates on data.test
// every config.eval_every updates and at the end. Progress and results go to `out`.
absl::StatusOr<FinetuneResult> finetune(BitResNetV2& model, const Dataset& data,
                                        const RunConfig& config, std::ostream& out);

}  // namespace bitgrad
