// Is the data ready before the model asks for it? Times the Loader alone (images/s of decoding,
// BiT train augmentation and batching on its worker threads), then a BiT training step alone,
// then training fed by the loader, and reports how long each step waited for its batch.
//
//   bazel run //tools/bench:loader_bench -- --format=cifar10 --data=/path/to/cifar-10-batches-bin
//   bazel run //tools/bench:loader_bench -- --synthetic=2048 --batch=32 --workers=2 --device=cuda
//
// Without --data it uses --synthetic random 32x32 RGB images held in memory (CIFAR-sized).
#include <omp.h>

#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "autograd/engine.h"
#include "core/random.h"
#include "core/stopwatch.h"
#include "data/bit_preprocess.h"
#include "data/datasets.h"
#include "data/loader.h"
#include "examples/common/invocation.h"
#include "models/bit_resnet_v2.h"
#include "ops/loss.h"
#include "optim/sgd.h"
#include "train/finetune.h"

ABSL_FLAG(std::string, format, "cifar10", "dataset format (data/datasets.h), with --data");
ABSL_FLAG(std::string, data, "", "dataset path; empty: --synthetic images");
ABSL_FLAG(int64_t, synthetic, 2048, "random 32x32 RGB images when --data is empty");
ABSL_FLAG(int64_t, batch, 32, "images per step");
ABSL_FLAG(int64_t, resolution, 0, "crop size; 0: the HyperRule's for the images' size");
ABSL_FLAG(std::string, augment, "bit", "the train path, as bit_finetune's --augment");
ABSL_FLAG(int, workers, 2, "loader threads");
ABSL_FLAG(int64_t, decoded_cache_mb, 512,
          "decoded image files kept between epochs (LoaderOptions::decoded_cache_bytes)");
ABSL_FLAG(int64_t, loader_steps, 20, "batches timed for the loader alone");
ABSL_FLAG(int64_t, train_steps, 3, "steps timed for training (after one warm-up step)");
ABSL_FLAG(std::string, model, "R50x1", "BiT architecture, e.g. R50x1");
ABSL_FLAG(std::string, device, "cpu", "cpu or cuda, for the training step");

namespace bitgrad {
namespace {

using Clock = SteadyClock;

absl::StatusOr<ImageSet> training_images() {
  if (absl::GetFlag(FLAGS_data).empty()) {
    const int64_t n = absl::GetFlag(FLAGS_synthetic);
    ImageSet set;
    set.source = "synthetic";
    set.pixels = empty({n, 32, 32, 3}, DType::kUInt8);
    Generator generator(0);
    uint8_t* pixels = set.pixels.mutable_data<uint8_t>();
    for (int64_t i = 0; i < set.pixels.numel(); ++i) pixels[i] = generator.randint(256);
    for (int64_t i = 0; i < n; ++i) set.labels.push_back(i % 10);
    for (int c = 0; c < 10; ++c) set.class_names.push_back(std::to_string(c));
    return set;
  }
  absl::StatusOr<DatasetFormat> format = parse_dataset_format(absl::GetFlag(FLAGS_format));
  if (!format.ok()) return format.status();
  absl::StatusOr<Dataset> data = load_dataset(*format, absl::GetFlag(FLAGS_data));
  if (!data.ok()) return data.status();
  return data->train;
}

absl::Status run() {
  absl::StatusOr<ImageSet> set = training_images();
  if (!set.ok()) return set.status();
  RunConfig train_path;
  train_path.set_augment(absl::GetFlag(FLAGS_augment));
  train_path.set_resolution(absl::GetFlag(FLAGS_resolution));
  absl::StatusOr<FinetunePlan> plan = plan_finetune(train_path, *set);
  if (!plan.ok()) return plan.status();
  LoaderOptions options;
  options.batch_size = absl::GetFlag(FLAGS_batch);
  options.workers = absl::GetFlag(FLAGS_workers);
  options.decoded_cache_bytes = absl::GetFlag(FLAGS_decoded_cache_mb) << 20;
  options.resolution = plan->resolution;
  const int64_t batch = options.batch_size, res = options.resolution.crop;
  std::cout << absl::StrFormat(
      "%s: %d images, batch %d, train path %s %d -> %d, %d workers\n", set->source, set->size(),
      batch, train_path.augment(), options.resolution.precrop, res, options.workers);

  // 1. The loader alone.
  {
    auto loader = Loader::open(*set, options);
    if (!loader.ok()) return loader.status();
    (void)(*loader)->next();  // the first batch pays for starting the threads
    const int64_t steps = absl::GetFlag(FLAGS_loader_steps);
    const auto start = Clock::now();
    for (int64_t i = 0; i < steps; ++i) {
      absl::StatusOr<Batch> next = (*loader)->next();
      if (!next.ok()) return next.status();
    }
    std::cout << absl::StrFormat("loader alone:         %8.1f images/s\n",
                                 steps * batch / seconds_since(start));
  }

  // 2. The training step alone, on one fixed batch.
  absl::StatusOr<BitConfig> config = bit_config_from_name(absl::GetFlag(FLAGS_model));
  if (!config.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--model: ", config.status().message()));
  }
  config->head_size = set->num_classes();
  config->zero_head = true;
  const Device device = Device::from_flag(absl::GetFlag(FLAGS_device));
  BitResNetV2 model(*config);
  model.to(device);
  Sgd sgd(model.named_parameters(), SgdOptions{.lr = 0.003, .momentum = 0.9});
  auto train_step = [&](const Batch& b) {
    Tensor loss = cross_entropy(model(b.images.to(device)), b.labels.to(device));
    loss.backward();
    sgd.step();
    sgd.zero_grad();
    return loss.item<double>();  // waits for the device
  };
  const int64_t train_steps = absl::GetFlag(FLAGS_train_steps);
  // Training builds one batch ahead, no more, so a loader slower than the step shows as
  // waiting from the first timed step instead of hiding behind a full queue.
  options.prefetch = 1;
  auto loader = Loader::open(*set, options);  // also feeds step 3
  const Batch fixed = *(*loader)->next();
  train_step(fixed);  // warm-up
  auto start = Clock::now();
  for (int64_t i = 0; i < train_steps; ++i) train_step(fixed);
  const double step_seconds = seconds_since(start) / train_steps;
  std::cout << absl::StrFormat(
      "training step alone:  %8.1f images/s (%s, %d OpenMP threads, %s)\n", batch / step_seconds,
      bit_arch_name(*config), omp_get_max_threads(), device.str());

  // 3. Training fed by the loader: the time next() blocks is time the model waits for data.
  train_step(*(*loader)->next());  // warm-up
  const double waited_before = (*loader)->wait_seconds();
  start = Clock::now();
  for (int64_t i = 0; i < train_steps; ++i) train_step(*(*loader)->next());
  const double total = seconds_since(start);
  const double waited = (*loader)->wait_seconds() - waited_before;
  std::cout << absl::StrFormat(
      "training with loader: %8.1f images/s; waited %.1f ms per step for data (%.1f%% of it)\n",
      train_steps * batch / total, 1e3 * waited / train_steps, 100 * waited / total);
  return absl::OkStatus();
}

}  // namespace
}  // namespace bitgrad

int main(int argc, char** argv) {
  return bitgrad::run_program(
      argc, argv, "loader_bench [--format=cifar10 --data=DIR | --synthetic=2048] [--batch=32]",
      bitgrad::run);
}
