#include "data/mixup.h"

#include <cmath>

#include "gtest/gtest.h"
#include "ops/loss.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::all_close;

struct Moments {
  double mean = 0, variance = 0;
};

template <typename Draw>
Moments moments(int count, Draw draw) {
  double sum = 0, sum_sq = 0;
  for (int i = 0; i < count; ++i) {
    const double v = draw();
    sum += v;
    sum_sq += v * v;
  }
  const double mean = sum / count;
  return {mean, sum_sq / count - mean * mean};
}

TEST(SamplerTest, GammaHasMeanAndVarianceEqualToItsShape) {
  Generator generator(1);
  for (double shape : {0.1, 0.5, 1.0, 4.0}) {
    const Moments m = moments(40000, [&] { return sample_gamma(shape, generator); });
    EXPECT_NEAR(m.mean, shape, 6 * std::sqrt(shape / 40000)) << shape;
    EXPECT_NEAR(m.variance, shape, 0.1 * shape) << shape;
  }
}

TEST(SamplerTest, BetaHasTheRightMoments) {
  Generator generator(2);
  // Beta(a, b): mean a / (a + b), variance ab / ((a + b)^2 (a + b + 1)).
  for (const std::pair<double, double>& shape : {std::pair{0.1, 0.1}, {2.0, 5.0}, {0.4, 0.4}}) {
    const double a = shape.first, b = shape.second;  // plain names: the lambda captures them
    const Moments m = moments(40000, [&] {
      const double v = sample_beta(a, b, generator);
      EXPECT_TRUE(v >= 0 && v <= 1) << v;
      return v;
    });
    const double variance = a * b / ((a + b) * (a + b) * (a + b + 1));
    EXPECT_NEAR(m.mean, a / (a + b), 6 * std::sqrt(variance / 40000)) << a << " " << b;
    EXPECT_NEAR(m.variance, variance, 0.05 * variance) << a << " " << b;
  }
}

TEST(MixBatchTest, MixesImagesAndTargetsByTheFormula) {
  const Tensor x = from_vector<float>({1, 2, 10, 20, -4, 8}, {3, 1, 1, 2});
  const Tensor y = from_vector<int64_t>({0, 2, 1}, {3});
  const Tensor perm = from_vector<int64_t>({2, 0, 1}, {3});
  const MixedBatch mixed = mix_batch(x, y, perm, 0.25, 3);
  const float keep = 0.25f, take = 0.75f;
  EXPECT_EQ(mixed.images.to_vector<float>(),
            (std::vector<float>{keep * 1 + take * -4, keep * 2 + take * 8, keep * 10 + take * 1,
                                keep * 20 + take * 2, keep * -4 + take * 10,
                                keep * 8 + take * 20}));
  EXPECT_EQ(mixed.permuted_labels.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 2}));
  EXPECT_EQ(mixed.targets.to_vector<float>(),
            (std::vector<float>{keep, take, 0, take, 0, keep, 0, keep, take}));
}

TEST(MixBatchTest, SoftTargetLossIsTheLambdaWeightedSumOfTwoCrossEntropies) {
  Generator generator(3);
  const Tensor x = randn({4, 3, 2, 2}, DType::kFloat32, Device::cpu(), generator);
  const Tensor y = from_vector<int64_t>({0, 4, 2, 4}, {4});
  const MixedBatch mixed = mix_batch(x, y, randperm(4, generator), 0.7, 5);
  const Tensor logits = randn({4, 5}, DType::kFloat32, Device::cpu(), generator);
  const double expected = 0.7 * cross_entropy(logits, mixed.labels).item<double>() +
                          0.3 * cross_entropy(logits, mixed.permuted_labels).item<double>();
  EXPECT_NEAR(cross_entropy(logits, mixed.targets).item<double>(), expected, 1e-5);
}

TEST(MixBatchTest, BadInputsAreNamed) {
  const Tensor x = zeros({3, 1, 1, 2});
  const Tensor y = from_vector<int64_t>({0, 2, 1}, {3});
  const Tensor perm = from_vector<int64_t>({2, 0, 1}, {3});
  auto mix = [](const Tensor& images, const Tensor& labels, const Tensor& permutation) {
    return [=] { mix_batch(images, labels, permutation, 0.5, 3); };
  };
  using testing::throws_error;
  EXPECT_TRUE(throws_error(mix(x, y, from_vector<int64_t>({2, 3, 1}, {3})),
                           {"permutation entry 3", "outside [0, 3)"}));
  EXPECT_TRUE(throws_error(mix(x, y, from_vector<int64_t>({-1, 0, 1}, {3})),
                           {"permutation entry -1"}));
  EXPECT_TRUE(throws_error(mix(x, from_vector<int64_t>({0, 3, 1}, {3}), perm),
                           {"label 3", "outside [0, 3)"}));
  EXPECT_TRUE(throws_error(mix(x, from_vector<int64_t>({0, -1, 1}, {3}), perm), {"label -1"}));
  EXPECT_TRUE(throws_error(mix(x.to(DType::kFloat64), y, perm), {"float32", "float64"}));
  EXPECT_TRUE(throws_error(mix(zeros({3, 2}), y, perm), {"(N, C, H, W)", "(3, 2)"}));
  EXPECT_TRUE(throws_error(mix(x, from_vector<int64_t>({0, 2}, {2}), perm),
                           {"int64 (3)", "(2) and (3)"}));
  EXPECT_TRUE(throws_error(mix(x, y, from_vector<int64_t>({0, 1}, {2})), {"(3) and (2)"}));
  EXPECT_TRUE(throws_error(mix(x, y.to(DType::kFloat32), perm), {"int64 (3)"}));
}

TEST(MixupTest, AlphaZeroIsOffAndDrawsNothing) {
  Mixup off(0);
  EXPECT_FALSE(off.enabled());
  Generator generator(4);
  const std::string before = generator.state();
  off.start_update(generator);
  const Tensor x = ones({2, 3, 1, 1});
  const Tensor y = from_vector<int64_t>({1, 0}, {2});
  const MixedBatch out = off.apply(x, y, 2, generator);
  EXPECT_EQ(generator.state(), before);
  EXPECT_TRUE(out.images.is_same(x));
  EXPECT_TRUE(out.targets.is_same(y));
  EXPECT_TRUE(testing::throws_error([] { Mixup(-0.1); }, {"alpha must be >= 0", "-0.1"}));
}

TEST(MixupTest, OneLambdaPerUpdateAndAPermutationPerMicroBatch) {
  Mixup mixup(0.1);
  Generator generator(5);
  mixup.start_update(generator);
  const double lam = mixup.lam();
  EXPECT_TRUE(lam >= 0 && lam <= 1);
  Tensor x = zeros({16, 1, 1, 1});
  for (int i = 0; i < 16; ++i) x.mutable_data<float>()[i] = static_cast<float>(i);
  Tensor y = zeros({16}, DType::kInt64);
  const MixedBatch first = mixup.apply(x, y, 1, generator);
  const MixedBatch second = mixup.apply(x, y, 1, generator);
  EXPECT_EQ(first.lam, lam);
  EXPECT_EQ(second.lam, lam);
  EXPECT_NE(first.images.to_vector<float>(), second.images.to_vector<float>());
  mixup.start_update(generator);
  EXPECT_NE(mixup.lam(), lam);
}

TEST(MixupTest, SkippingAMicroBatchDrawsWhatApplyingItWould) {
  // A data-parallel process skips the others' micro-batches and mixes its own exactly as one
  // process that applies them all.
  Tensor x = zeros({8, 1, 1, 1});
  for (int i = 0; i < 8; ++i) x.mutable_data<float>()[i] = static_cast<float>(i);
  const Tensor y = zeros({8}, DType::kInt64);
  Mixup mixup(0.2);
  Generator all(9), skipping(9);
  mixup.start_update(all);
  (void)mixup.apply(x, y, 1, all);
  const MixedBatch applied = mixup.apply(x, y, 1, all);
  mixup.start_update(skipping);
  mixup.skip(8, skipping);
  const MixedBatch after_skip = mixup.apply(x, y, 1, skipping);
  EXPECT_EQ(after_skip.images.to_vector<float>(), applied.images.to_vector<float>());
  EXPECT_EQ(skipping.state(), all.state());
  Mixup off(0);
  const std::string before = all.state();
  off.skip(8, all);
  EXPECT_EQ(all.state(), before);
}

}  // namespace
}  // namespace bitgrad
