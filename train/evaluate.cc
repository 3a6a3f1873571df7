#include "train/evaluate.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/str_format.h"
#include "autograd/grad_mode.h"
#include "core/stopwatch.h"
#include "data/loader.h"
#include "ops/loss.h"
#include "train/progress.h"

namespace bitgrad {
namespace {

// How many of `row`'s K logits beat the label's, ties going to the label: its rank, 0 = top.
int64_t rank_of_label(const float* row, int64_t num_classes, int64_t label) {
  return std::count_if(row, row + num_classes, [&](float v) { return v > row[label]; });
}

// The eval path over `set` once, in file order.
LoaderOptions eval_loader_options(int64_t resolution, int64_t batch, int workers) {
  LoaderOptions options;
  options.batch_size = batch;
  options.resolution = {resolution, resolution};
  options.augment = false;
  options.single_pass = true;
  options.workers = workers;
  return options;
}

}  // namespace

std::unique_ptr<DecodedImageCache> eval_image_cache(const ImageSet& set, int64_t resolution) {
  const LoaderOptions options = eval_loader_options(resolution, 1, 1);
  return std::make_unique<DecodedImageCache>(set, decode_size(options),
                                             options.decoded_cache_bytes);
}

absl::StatusOr<EvalResult> evaluate(BitResNetV2& model, const ImageSet& set, int64_t resolution,
                                    int64_t batch, int workers, Communicator* world,
                                    const EvalProgress& progress, LossFunction loss_of,
                                    DecodedImageCache* decoded) {
  LoaderOptions options = eval_loader_options(resolution, batch, workers);
  options.shared_decoded = decoded;
  if (world != nullptr) {
    options.shard = {world->size(), world->rank(), 1};
    options.first_step = world->rank();
  }
  absl::StatusOr<std::unique_ptr<Loader>> loader = Loader::open(set, options);
  if (!loader.ok()) return loader.status();

  NoGradGuard no_grad;
  model.eval();
  EvalResult result;
  double loss_sum = 0;
  int64_t top1 = 0, top5 = 0;
  const int64_t steps = (*loader)->num_steps();
  const SteadyClock::time_point start = SteadyClock::now();
  SteadyClock::time_point last_line = start;
  for (int64_t step = 0; step < steps; ++step) {
    absl::StatusOr<Batch> b = (*loader)->next();
    if (!b.ok()) {
      model.train();
      return b.status();
    }
    const Tensor logits = model(b->images.to(model.device()));
    const int64_t n = logits.shape()[0], k = logits.shape()[1];
    loss_sum += loss_of(logits, b->labels.to(logits.device())).item<double>() * n;
    const std::vector<float> values = logits.to_vector<float>();
    const std::vector<int64_t> labels = b->labels.to_vector<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t rank = rank_of_label(values.data() + i * k, k, labels[i]);
      top1 += rank < 1;
      top5 += rank < 5;
    }
    result.examples += n;
    if (progress.out != nullptr && step + 1 < steps &&
        seconds_since(last_line) >= progress.every_seconds) {
      const double elapsed = seconds_since(start);
      *progress.out << absl::StrFormat(
          "eval: batch %d/%d, %.1f images/s, ETA %s\n", step + 1, steps,
          result.examples / elapsed, format_duration(elapsed / (step + 1) * (steps - step - 1)));
      last_line = SteadyClock::now();
    }
  }
  model.train();
  if (world != nullptr) {  // the totals over the processes
    double sums[4] = {loss_sum, static_cast<double>(top1), static_cast<double>(top5),
                      static_cast<double>(result.examples)};
    world->all_reduce_sum(sums, 4);
    loss_sum = sums[0];
    top1 = static_cast<int64_t>(sums[1]);
    top5 = static_cast<int64_t>(sums[2]);
    result.examples = static_cast<int64_t>(sums[3]);
  }
  if (result.examples > 0) {
    result.top1 = static_cast<double>(top1) / result.examples;
    result.top5 = static_cast<double>(top5) / result.examples;
    result.loss = loss_sum / result.examples;
  }
  return result;
}

}  // namespace bitgrad
