// Trains a BiT ResNet-v2 from scratch on Fashion-MNIST (Debian's dataset-fashion-mnist), with
// the pieces BiT uses: Weight-Standardized convs, GroupNorm, SGD with momentum and a warmup +
// staircase schedule. The network is an R50 narrowed to base width 16 (and 8 GroupNorm groups)
// so that a run takes minutes on two cores.
//
//   bazel run //examples:train_fashion_mnist -- --steps=1200 --batch=64
//
// Images are 28x28 grayscale; each is replicated to RGB, scaled to [-1, 1] and placed in a
// 32x32 canvas, at a random offset (and flipped half the time) for training, centred for eval.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "core/random.h"
#include "data/idx_dataset.h"
#include "examples/common/invocation.h"
#include "examples/common/progress.h"
#include "models/bit_resnet_v2.h"
#include "ops/loss.h"
#include "optim/lr_schedule.h"
#include "optim/sgd.h"

ABSL_FLAG(int64_t, steps, 1200, "optimizer steps");
ABSL_FLAG(int64_t, batch, 64, "images per step");
ABSL_FLAG(double, lr, 0.1, "peak learning rate (after warmup)");
ABSL_FLAG(int64_t, warmup, 100, "linear warmup steps");
ABSL_FLAG(int64_t, eval_every, 400, "evaluate on the test set every this many steps (0: at the end)");
ABSL_FLAG(int64_t, eval_images, 10000, "test images per evaluation (at most 10000)");
ABSL_FLAG(int64_t, base_width, 16, "channels of the root conv (64 in real BiT models)");
ABSL_FLAG(int64_t, groups, 8, "GroupNorm groups (32 in real BiT models)");
ABSL_FLAG(uint64_t, seed, 0, "seed for initialisation, shuffling and augmentation");
ABSL_FLAG(std::string, data_dir, bitgrad::kFashionMnistDir, "where the IDX files are");

namespace bitgrad {
namespace {

constexpr int64_t kCanvas = 32;  // the model's input resolution
constexpr int64_t kSide = 28;    // Fashion-MNIST images

// Builds an (N, 3, 32, 32) float batch in [-1, 1] from the images at `indices`.
Tensor make_batch(const Tensor& images, const std::vector<int64_t>& indices, bool augment,
                  Generator& generator) {
  int64_t n = static_cast<int64_t>(indices.size());
  Tensor batch = full({n, 3, kCanvas, kCanvas}, -1.0);  // background: black
  float* out = batch.mutable_data<float>();
  const uint8_t* pixels = images.data<uint8_t>();
  for (int64_t b = 0; b < n; ++b) {
    int64_t margin = kCanvas - kSide;
    int64_t top = augment ? generator.randint(margin + 1) : margin / 2;
    int64_t left = augment ? generator.randint(margin + 1) : margin / 2;
    bool flip = augment && generator.randint(2) == 1;
    const uint8_t* image = pixels + indices[b] * kSide * kSide;
    for (int64_t y = 0; y < kSide; ++y) {
      for (int64_t x = 0; x < kSide; ++x) {
        float value = image[y * kSide + (flip ? kSide - 1 - x : x)] / 127.5f - 1.0f;
        for (int64_t c = 0; c < 3; ++c) {
          out[((b * 3 + c) * kCanvas + top + y) * kCanvas + left + x] = value;
        }
      }
    }
  }
  return batch;
}

std::vector<int64_t> pick(const Tensor& all, const std::vector<int64_t>& indices) {
  std::vector<int64_t> out;
  const int64_t* values = all.data<int64_t>();
  for (int64_t i : indices) out.push_back(values[i]);
  return out;
}

// Top-1 accuracy on the first `count` test images.
double evaluate(BitResNetV2& model, const LabeledImages& test, int64_t count) {
  NoGradGuard no_grad;
  model.eval();
  Generator unused;
  int64_t correct = 0;
  constexpr int64_t kEvalBatch = 500;
  for (int64_t start = 0; start < count; start += kEvalBatch) {
    std::vector<int64_t> indices;
    for (int64_t i = start; i < std::min(count, start + kEvalBatch); ++i) indices.push_back(i);
    std::vector<float> logits =
        model(make_batch(test.images, indices, false, unused)).to_vector<float>();
    std::vector<int64_t> labels = pick(test.labels, indices);
    for (size_t i = 0; i < indices.size(); ++i) {
      const float* row = logits.data() + i * 10;
      correct += std::max_element(row, row + 10) - row == labels[i];
    }
  }
  model.train();
  return static_cast<double>(correct) / count;
}

absl::Status run() {
  auto train = load_fashion_mnist("train", absl::GetFlag(FLAGS_data_dir));
  if (!train.ok()) return train.status();
  auto test = load_fashion_mnist("test", absl::GetFlag(FLAGS_data_dir));
  if (!test.ok()) return test.status();
  int64_t steps = absl::GetFlag(FLAGS_steps), batch_size = absl::GetFlag(FLAGS_batch);
  int64_t eval_every = absl::GetFlag(FLAGS_eval_every);
  int64_t eval_images = std::clamp<int64_t>(absl::GetFlag(FLAGS_eval_images), 1, 10000);

  BitConfig config;
  config.head_size = 10;
  config.zero_head = true;
  config.seed = absl::GetFlag(FLAGS_seed);
  config.base_width = absl::GetFlag(FLAGS_base_width);
  config.num_groups = absl::GetFlag(FLAGS_groups);
  BitResNetV2 model(config);
  Sgd sgd(model.named_parameters(), SgdOptions{.lr = 0.0, .momentum = 0.9});
  // Decay by 10 at 50% and 80% of training.
  WarmupStaircase schedule(absl::GetFlag(FLAGS_lr), absl::GetFlag(FLAGS_warmup),
                           {steps / 2, steps * 4 / 5}, steps);
  std::cout << absl::StrFormat(
      "BiT ResNet-v2 %s (base width %d, %d groups): %.2fM parameters; %d training images, "
      "batch %d, %d steps\n",
      bit_arch_name(config), config.base_width, config.num_groups,
      bit_param_count(config) / 1e6, train->labels.numel(), batch_size, steps);

  Generator generator(config.seed);
  std::vector<int64_t> order;
  size_t next = 0;
  ProgressMeter progress(steps, batch_size);
  for (int64_t step = 0; step < steps; ++step) {
    std::vector<int64_t> indices;
    while (static_cast<int64_t>(indices.size()) < batch_size) {
      if (next == order.size()) {  // a new epoch: reshuffle
        order = randperm(train->labels.numel(), generator).to_vector<int64_t>();
        next = 0;
      }
      indices.push_back(order[next++]);
    }
    Tensor x = make_batch(train->images, indices, true, generator);
    Tensor y = from_vector<int64_t>(pick(train->labels, indices), {batch_size});

    double lr = *schedule.lr(step);
    sgd.set_lr(lr);
    Tensor loss = cross_entropy(model(x), y);
    loss.backward();
    sgd.step();
    sgd.zero_grad();
    progress.update(step + 1, loss.item<double>(), lr);

    bool last = step + 1 == steps;
    if (last || (eval_every > 0 && (step + 1) % eval_every == 0)) {
      double accuracy = evaluate(model, *test, eval_images);
      std::cout << absl::StrFormat("step %d: test accuracy %.2f%% (%d images)\n", step + 1,
                                   100 * accuracy, eval_images);
      progress.restart(step + 1);
    }
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace bitgrad

int main(int argc, char** argv) {
  return bitgrad::run_program(
      argc, argv, "train_fashion_mnist [--steps=1200] [--batch=64] [--lr=0.1] [--data_dir=DIR]",
      bitgrad::run);
}
