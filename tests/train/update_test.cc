#include "train/update.h"

#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "tests/golden/golden.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

constexpr int64_t kBatch = 8, kClasses = 3, kSide = 16;
constexpr double kLr = 0.003;  // BiT's base lr

BitConfig tiny_config() {
  BitConfig config;
  config.head_size = kClasses;
  config.base_width = 4;
  config.num_groups = 2;
  config.seed = 7;
  return config;  // Kaiming-normal head, so every parameter gets a gradient at once
}

// In float64, so that "equal up to summation order" can be checked tightly: in float32 the
// cancellations in the weight-standardization and GroupNorm gradients of this tiny model turn
// reordered sums into differences of ~1e-3 of an update.
std::unique_ptr<BitResNetV2> tiny_model() {
  auto model = std::make_unique<BitResNetV2>(tiny_config());
  model->to(DType::kFloat64);
  return model;
}

// The batch every test here trains on: kBatch random images and fixed labels.
Batch whole_batch() {
  Generator data(3);
  Batch batch;
  batch.images = randn({kBatch, 3, kSide, kSide}, DType::kFloat64, Device::cpu(), data);
  batch.labels = from_vector<int64_t>({0, 1, 2, 0, 1, 2, 2, 1}, {kBatch});
  return batch;
}

// Examples [begin, end) of `whole`, as the loader would give them.
Batch slice(const Batch& whole, int64_t begin, int64_t end) {
  const int64_t per_image = 3 * kSide * kSide;
  const std::vector<double> pixels = whole.images.to_vector<double>();
  const std::vector<int64_t> labels = whole.labels.to_vector<int64_t>();
  Batch batch;
  batch.images = from_vector<double>(
      std::vector<double>(pixels.begin() + begin * per_image, pixels.begin() + end * per_image),
      {end - begin, 3, kSide, kSide});
  batch.labels = from_vector<int64_t>(
      std::vector<int64_t>(labels.begin() + begin, labels.begin() + end), {end - begin});
  return batch;
}

// Two updates (the second one uses momentum) on the same batch cut into `split` micro-batches.
// Returns the losses; `model` holds the result.
std::vector<double> two_updates(BitResNetV2& model, int64_t split) {
  const Batch whole = whole_batch();
  std::vector<Batch> micro;
  for (int64_t m = 0; m < split; ++m) {
    micro.push_back(slice(whole, m * kBatch / split, (m + 1) * kBatch / split));
  }
  Sgd sgd(model.named_parameters(), SgdOptions{.lr = 0.0, .momentum = 0.9});
  Mixup off(0.0);
  Generator generator(11);
  const double first = *train_update(model, sgd, kLr, micro, off, generator);
  return {first, *train_update(model, sgd, kLr, micro, off, generator)};
}

// issue 13: one update with batch_split = 4 equals one with batch_split = 1, up to float
// summation order.
using TrainUpdateTest = golden::GoldenTest;  // the default kernels, then the reference ones

TEST_P(TrainUpdateTest, BatchSplitGivesTheFullBatchUpdate) {
  std::unique_ptr<BitResNetV2> whole = tiny_model(), split = tiny_model(),
                               untouched = tiny_model();
  const std::vector<double> whole_losses = two_updates(*whole, 1);
  const std::vector<double> split_losses = two_updates(*split, 4);
  ASSERT_EQ(whole_losses.size(), split_losses.size());
  for (size_t i = 0; i < whole_losses.size(); ++i) {
    EXPECT_NEAR(split_losses[i], whole_losses[i], 1e-12 * whole_losses[i]) << "update " << i;
  }
  const auto expected = whole->named_parameters(), actual = split->named_parameters();
  const auto before = untouched->named_parameters();
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(testing::all_close(actual[i].second, expected[i].second, 1e-9, 1e-12))
        << expected[i].first;
    // The update moved the parameter, so agreeing means something.
    EXPECT_FALSE(testing::all_close(expected[i].second, before[i].second, 0, 1e-7))
        << expected[i].first << " did not change";
  }
}

TEST_P(TrainUpdateTest, GradientsAreDroppedAfterTheUpdate) {
  std::unique_ptr<BitResNetV2> model = tiny_model();
  two_updates(*model, 2);
  for (const auto& [name, parameter] : model->named_parameters()) {
    EXPECT_FALSE(parameter.grad().defined()) << name;
  }
}

// A NaN pixel: the max-pool drops it from the loss, which stays finite, but the root conv's
// weight gradient sums it in. The update refuses to step, names that parameter, and leaves the
// parameters and the momentum as they were.
TEST_P(TrainUpdateTest, ANonFiniteLossOrGradientStopsTheUpdate) {
  std::unique_ptr<BitResNetV2> model = tiny_model(), untouched = tiny_model();
  Batch batch = whole_batch();
  batch.images.mutable_data<double>()[5] = std::nan("");
  Sgd sgd(model->named_parameters(), SgdOptions{.lr = 0.0, .momentum = 0.9});
  Mixup off(0.0);
  Generator generator(11);
  absl::StatusOr<double> loss = train_update(*model, sgd, kLr, {batch}, off, generator);
  const std::string first = model->named_parameters().front().first;
  EXPECT_TRUE(
      testing::fails_naming(loss.status(), {"parameter '" + first + "'", "gradient holds nan"}));
  EXPECT_TRUE(sgd.state().empty()) << "the optimizer stepped";
  const auto before = untouched->named_parameters(), after = model->named_parameters();
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_TRUE(testing::all_close(after[i].second, before[i].second, 0, 0)) << after[i].first;
    EXPECT_FALSE(after[i].second.grad().defined()) << after[i].first;
  }
}

// Finite gradients times a huge lr overflow the weights: the update reports it, naming the
// first parameter, so that the run stops before anything saves that model.
TEST_P(TrainUpdateTest, AStepThatOverflowsAParameterIsReported) {
  std::unique_ptr<BitResNetV2> model = tiny_model();
  const Batch batch = whole_batch();
  Sgd sgd(model->named_parameters(), SgdOptions{.lr = 0.0, .momentum = 0.9});
  Mixup off(0.0);
  Generator generator(11);
  absl::StatusOr<double> loss = train_update(*model, sgd, 1e308, {batch}, off, generator);
  const std::string first = model->named_parameters().front().first;
  EXPECT_TRUE(testing::fails_naming(
      loss.status(), {"the update at lr 1e+308 made parameter '" + first + "' hold ",
                      "from finite gradients"}));
  EXPECT_FALSE(sgd.state().empty()) << "the optimizer did not step";
}

TEST_P(TrainUpdateTest, TheLossIsTheFunctionGiven) {
  std::unique_ptr<BitResNetV2> model = tiny_model();
  const Batch batch = whole_batch();
  const double softmax = cross_entropy((*model)(batch.images), batch.labels).item<double>();
  const double sigmoid =
      sigmoid_cross_entropy((*model)(batch.images), batch.labels).item<double>();
  ASSERT_GT(std::abs(sigmoid - softmax), 0.1);
  Sgd sgd(model->named_parameters(), SgdOptions{.lr = 0.0, .momentum = 0.9});
  Mixup off(0.0);
  Generator generator(11);
  absl::StatusOr<double> loss =
      train_update(*model, sgd, kLr, {batch}, off, generator, nullptr, sigmoid_cross_entropy);
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_NEAR(*loss, sigmoid, 1e-12 * sigmoid);  // the loss before the step
}

// The cross-entropy plus an infinity that has no gradient: a non-finite loss whose gradients are
// all finite.
Tensor infinite_loss(const Tensor& logits, const Tensor& labels) {
  return cross_entropy(logits, labels) + std::numeric_limits<double>::infinity();
}

TEST_P(TrainUpdateTest, ANonFiniteLossWithFiniteGradientsStopsTheUpdate) {
  std::unique_ptr<BitResNetV2> model = tiny_model(), untouched = tiny_model();
  Sgd sgd(model->named_parameters(), SgdOptions{.lr = 0.0, .momentum = 0.9});
  Mixup off(0.0);
  Generator generator(11);
  absl::StatusOr<double> loss =
      train_update(*model, sgd, kLr, {whole_batch()}, off, generator, nullptr, infinite_loss);
  EXPECT_TRUE(testing::fails_naming(loss.status(),
                                    {"the loss is inf", "every gradient is finite"}));
  EXPECT_TRUE(sgd.state().empty()) << "the optimizer stepped";
  const auto before = untouched->named_parameters(), after = model->named_parameters();
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_TRUE(testing::all_close(after[i].second, before[i].second, 0, 0)) << after[i].first;
  }
}

// MixUp draws lam once per update and its micro-batches share it (bit.md §3.2): the loss is that
// of the micro-batches as a twin Mixup mixes them after one start_update. In float32, as the
// loader's batches are.
TEST_P(TrainUpdateTest, MixupDrawsOneLamPerUpdateForAllItsMicroBatches) {
  auto model = std::make_unique<BitResNetV2>(tiny_config());
  const Batch whole = whole_batch();
  std::vector<Batch> micro = {slice(whole, 0, kBatch / 2), slice(whole, kBatch / 2, kBatch)};
  for (Batch& batch : micro) batch.images = batch.images.to(DType::kFloat32);

  Mixup twin(0.5);
  Generator twin_generator(11);
  twin.start_update(twin_generator);
  ASSERT_LT(twin.lam(), 0.99) << "a lam near 1 would mix nothing; pick another seed";
  double expected = 0;
  for (const Batch& batch : micro) {
    const MixedBatch mixed = twin.apply(batch.images, batch.labels, kClasses, twin_generator);
    expected += cross_entropy((*model)(mixed.images), mixed.targets).item<double>() / 2;
  }

  Sgd sgd(model->named_parameters(), SgdOptions{.lr = 0.0, .momentum = 0.9});
  Mixup mixup(0.5);
  Generator generator(11);
  absl::StatusOr<double> loss = train_update(*model, sgd, kLr, micro, mixup, generator);
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_EQ(mixup.lam(), twin.lam());
  EXPECT_NEAR(*loss, expected, 1e-6 * expected);  // the loss before the step
  EXPECT_EQ(generator.state(), twin_generator.state());
}

BG_GOLDEN_INSTANTIATE(TrainUpdateTest);

}  // namespace
}  // namespace bitgrad
