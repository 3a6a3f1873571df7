#include "train/update.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "autograd/engine.h"
#include "core/check.h"
#include "ops/elementwise.h"
#include "ops/loss.h"
#include "ops/non_finite.h"

namespace bitgrad {
namespace {

// OK when the loss and every gradient are finite; otherwise says which went wrong first. The
// gradients are checked where they live, in one pass (ops/non_finite.h).
absl::Status check_finite(const BitResNetV2& model, double loss) {
  std::vector<std::string> names;
  std::vector<Tensor> grads;
  for (const auto& [name, parameter] : model.named_parameters()) {
    if (!parameter.grad().defined()) continue;
    names.push_back(name);
    grads.push_back(parameter.grad());
  }
  const int64_t bad = first_non_finite(grads);
  if (std::isfinite(loss) && bad < 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "non-finite training values: the loss is ", loss, ", ",
      bad < 0 ? "every gradient is finite"
              : absl::StrCat("parameter '", names[bad], "' is the first whose gradient holds ",
                             locate_non_finite(grads[bad]).value)));
}

// OK when every parameter is finite after a step; otherwise names the first that is not. A
// finite gradient times a large lr can still overflow a weight.
absl::Status check_finite_after_step(const BitResNetV2& model, double lr) {
  std::vector<std::string> names;
  std::vector<Tensor> parameters;
  for (const auto& [name, parameter] : model.named_parameters()) {
    names.push_back(name);
    parameters.push_back(parameter);
  }
  const int64_t bad = first_non_finite(parameters);
  if (bad < 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "non-finite training values: the update at lr ", lr, " made parameter '", names[bad],
      "' hold ", locate_non_finite(parameters[bad]).value, " from finite gradients"));
}

}  // namespace

absl::StatusOr<double> train_update(BitResNetV2& model, Sgd& sgd, double lr,
                                    const std::vector<Batch>& micro_batches, Mixup& mixup,
                                    Generator& generator, const DataParallelShard* shard,
                                    LossFunction loss_of) {
  BG_CHECK(!micro_batches.empty(), "train_update: no micro-batches");
  const int64_t local = static_cast<int64_t>(micro_batches.size());
  const int64_t first = shard != nullptr ? shard->first_micro_batch : 0;
  const int64_t total = shard != nullptr ? shard->micro_batches_per_update : local;
  BG_CHECK(first >= 0 && first + local <= total, "train_update: micro-batches [", first, ", ",
           first + local, ") of an update of ", total);
  const int64_t micro_batch_size = micro_batches.front().labels.numel();
  const int64_t num_classes = model.config().head_size;
  const Device device = model.device();  // batches are made on the CPU and copied there
  mixup.start_update(generator);
  for (int64_t m = 0; m < first; ++m) mixup.skip(micro_batch_size, generator);
  double loss_sum = 0;
  for (int64_t m = 0; m < local; ++m) {
    const Batch& batch = micro_batches[m];
    MixedBatch mixed = mixup.apply(batch.images, batch.labels, num_classes, generator);
    Tensor loss = loss_of(model(mixed.images.to(device)), mixed.targets.to(device)) /
                  static_cast<double>(total);
    if (shard != nullptr && m == local - 1) {
      backward(loss, Tensor(), shard->reducer->backward_options());
    } else {
      loss.backward();
    }
    loss_sum += loss.item<double>();
  }
  for (int64_t m = first + local; m < total; ++m) mixup.skip(micro_batch_size, generator);
  if (shard != nullptr) {
    shard->reducer->finish();
    shard->world->all_reduce_sum(&loss_sum, 1);
  }
  if (absl::Status status = check_finite(model, loss_sum); !status.ok()) {
    sgd.zero_grad();
    return status;
  }
  sgd.set_lr(lr);
  sgd.step();
  sgd.zero_grad();
  if (absl::Status status = check_finite_after_step(model, lr); !status.ok()) return status;
  return loss_sum;
}

}  // namespace bitgrad
