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

// The gradients an update steps with, in model order, and their parameters' names.
struct SteppedParameters {
  std::vector<std::string> names;
  std::vector<Tensor> grads;
};

SteppedParameters stepped_parameters(const BitResNetV2& model) {
  SteppedParameters stepped;
  for (const auto& [name, parameter] : model.named_parameters()) {
    if (!parameter.grad().defined()) continue;
    stepped.names.push_back(name);
    stepped.grads.push_back(parameter.grad());
  }
  return stepped;
}

// OK when the loss and every gradient are finite; otherwise says which went wrong first. The
// gradients are checked where they live, in one pass (ops/non_finite.h).
absl::Status check_finite(const SteppedParameters& stepped, double loss) {
  const std::optional<NonFinite> bad = find_non_finite(stepped.grads);
  if (std::isfinite(loss) && !bad) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "non-finite training values: the loss is ", loss, ", ",
      !bad ? "every gradient is finite"
           : absl::StrCat("parameter '", stepped.names[bad->tensor],
                          "' is the first whose gradient holds ", bad->value)));
}

// The error for a step that left `parameter` non-finite (Sgd::step finds it). A finite gradient
// times a large lr can still overflow a weight.
absl::Status non_finite_after_step(const NamedTensor& parameter, double lr) {
  const std::optional<NonFinite> bad = find_non_finite({parameter.second});
  BG_CHECK(bad.has_value(), "train_update: SgdUpdate reported parameter '", parameter.first,
           "' non-finite, but FirstNonFinite finds it finite");
  return absl::InvalidArgumentError(absl::StrCat(
      "non-finite training values: the update at lr ", lr, " made parameter '", parameter.first,
      "' hold ", bad->value, " from finite gradients"));
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
  const SteppedParameters stepped = stepped_parameters(model);
  if (absl::Status status = check_finite(stepped, loss_sum); !status.ok()) {
    sgd.zero_grad();
    return status;
  }
  sgd.set_lr(lr);
  const std::optional<NamedTensor> non_finite = sgd.step();
  sgd.zero_grad();
  if (non_finite) return non_finite_after_step(*non_finite, lr);
  return loss_sum;
}

}  // namespace bitgrad
