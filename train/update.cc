#include "train/update.h"

#include "core/check.h"
#include "ops/elementwise.h"
#include "ops/loss.h"

namespace bitgrad {

double train_update(BitResNetV2& model, Sgd& sgd, double lr,
                    const std::vector<Batch>& micro_batches, Mixup& mixup, Generator& generator) {
  BG_CHECK(!micro_batches.empty(), "train_update: no micro-batches");
  const double count = static_cast<double>(micro_batches.size());
  const int64_t num_classes = model.config().head_size;
  mixup.start_update(generator);
  double loss_sum = 0;
  for (const Batch& batch : micro_batches) {
    MixedBatch mixed = mixup.apply(batch.images, batch.labels, num_classes, generator);
    Tensor loss = cross_entropy(model(mixed.images), mixed.targets) / count;
    loss.backward();
    loss_sum += loss.item<double>();
  }
  sgd.set_lr(lr);
  sgd.step();
  sgd.zero_grad();
  return loss_sum;
}

}  // namespace bitgrad
