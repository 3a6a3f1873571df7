// The layers of models/nn: parameters, initialisation, forward against the functional ops or
// hand-computed values, gradients, and StdConv2d's eval-mode cache.
#include <cmath>
#include <memory>

#include "autograd/grad_mode.h"
#include "gtest/gtest.h"
#include "models/nn/conv2d.h"
#include "models/nn/group_norm.h"
#include "models/nn/init.h"
#include "models/nn/linear.h"
#include "models/nn/pool.h"
#include "models/nn/std_conv2d.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gradcheck.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::gradcheck;
using testing::throws_error;

// Per output filter: (w - mean) / sqrt(biased var + eps), written out with loops.
Tensor standardize_by_hand(const Tensor& w, double eps) {
  const int64_t out = w.size(0), fan_in = w.numel() / out;
  std::vector<double> values = w.to_vector<double>();
  for (int64_t o = 0; o < out; ++o) {
    double mean = 0, var = 0;
    for (int64_t k = 0; k < fan_in; ++k) mean += values[o * fan_in + k];
    mean /= fan_in;
    for (int64_t k = 0; k < fan_in; ++k) var += std::pow(values[o * fan_in + k] - mean, 2);
    var /= fan_in;
    for (int64_t k = 0; k < fan_in; ++k) {
      values[o * fan_in + k] = (values[o * fan_in + k] - mean) / std::sqrt(var + eps);
    }
  }
  return from_vector(values, w.shape()).to(w.dtype());
}

TEST(NnTest, KaimingNormalHasTheHeStdAndIsSeeded) {
  Generator a(7), b(7), c(8);
  const Tensor w = nn::kaiming_normal({64, 32, 3, 3}, a);
  std::vector<float> values = w.to_vector<float>();
  double sum = 0, sum_sq = 0;
  for (float v : values) {
    sum += v;
    sum_sq += static_cast<double>(v) * v;
  }
  const double n = values.size(), mean = sum / n, std = std::sqrt(sum_sq / n - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(std, std::sqrt(2.0 / (32 * 9)), 0.03 * std::sqrt(2.0 / (32 * 9)));
  EXPECT_EQ(nn::kaiming_normal({64, 32, 3, 3}, b).to_vector<float>(), values);
  EXPECT_NE(nn::kaiming_normal({64, 32, 3, 3}, c).to_vector<float>(), values);
}

TEST(NnTest, Conv2dParametersAndForward) {
  Generator generator(1);
  nn::Conv2d conv(nn::Conv2dOptions(4, 6, 3).stride(2).padding(1), generator);
  EXPECT_EQ(conv.weight.shape(), Shape({6, 4, 3, 3}));
  EXPECT_EQ(conv.bias.to_vector<float>(), std::vector<float>(6, 0.0f));
  conv.bias.copy_(from_vector<float>({1, 2, 3, 4, 5, 6}, {6}));
  const Tensor x = randn({2, 4, 9, 9});
  const Tensor y = conv(x);
  EXPECT_EQ(y.shape(), Shape({2, 6, 5, 5}));
  Conv2dAttrs attrs;
  attrs.stride = {2, 2};
  attrs.padding = {1, 1};
  EXPECT_TRUE(all_close(y, conv2d(x, conv.weight, conv.bias, attrs)));

  nn::Conv2d no_bias(nn::Conv2dOptions(4, 6, 1).bias(false), generator);
  EXPECT_FALSE(no_bias.bias.defined());
  EXPECT_EQ(no_bias.named_parameters().size(), 1u);
  EXPECT_TRUE(throws_error([&] { nn::Conv2d(nn::Conv2dOptions(4, 6, 3).groups(4)); },
                           {"Conv2d", "4 groups", "out 6"}));
  EXPECT_TRUE(throws_error([&] { nn::Conv2d(nn::Conv2dOptions(6, 4, 3).groups(4)); },
                           {"Conv2d", "4 groups", "in 6"}));
  // conv + addend in one pass has no place for a bias.
  EXPECT_TRUE(throws_error([&] { conv.forward_add(x, zeros({2, 6, 5, 5})); },
                           {"Conv2d", "forward_add", "without a bias"}));
}

TEST(NnTest, StdConv2dConvolvesWithTheStandardizedKernel) {
  Generator generator(2);
  nn::StdConv2d conv(nn::Conv2dOptions(3, 5, 3).padding(1).bias(false), generator);
  EXPECT_EQ(conv.type_name(), "StdConv2d");
  EXPECT_EQ(conv.eps(), 1e-10);
  conv.weight.copy_(randn({5, 3, 3, 3}, DType::kFloat32, Device::cpu(), generator) * 3.0 + 0.5);
  const Tensor x = randn({1, 3, 6, 6});
  Conv2dAttrs attrs;
  attrs.padding = {1, 1};
  const Tensor expected = conv2d(x, standardize_by_hand(conv.weight, 1e-10), Tensor(), attrs);
  EXPECT_TRUE(all_close(conv(x), expected, 1e-4, 1e-4));
}

TEST(NnTest, StdConv2dGradientsThroughTheStandardization) {
  Generator generator(3);
  nn::StdConv2d conv(nn::Conv2dOptions(2, 3, 3).stride(2).padding(1).bias(false), generator);
  conv.to(DType::kFloat64);
  // The input gradient, by the shared gradcheck.
  const Tensor x = randn({1, 2, 5, 5}, DType::kFloat64).set_requires_grad();
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return conv(in[0]); }, {x}));

  // The raw weight's gradient (the module's own parameter), by central differences.
  const Tensor cotangent = randn({1, 3, 3, 3}, DType::kFloat64);
  auto loss = [&] { return sum(conv(x.detach()) * cotangent); };
  conv.zero_grad();  // the gradcheck above accumulated into it too
  loss().backward();
  const std::vector<double> analytic = conv.weight.grad().to_vector<double>();
  const double eps = 1e-6;
  for (int64_t k = 0; k < conv.weight.numel(); ++k) {
    double* w = conv.weight.mutable_data<double>();
    const double saved = w[k];
    w[k] = saved + eps;
    const double plus = loss().item<double>();
    w[k] = saved - eps;
    const double minus = loss().item<double>();
    w[k] = saved;
    EXPECT_NEAR(analytic[k], (plus - minus) / (2 * eps), 1e-5 + 1e-3 * std::fabs(analytic[k]))
        << "weight element " << k;
  }
}

TEST(NnTest, StdConv2dCachesTheKernelOnlyForGradientFreeEval) {
  Generator generator(4);
  nn::StdConv2d conv(nn::Conv2dOptions(3, 4, 1).bias(false), generator);
  const Tensor x = randn({1, 3, 4, 4});
  auto by_hand = [&] { return conv2d(x, standardize_by_hand(conv.weight, 1e-10)); };
  EXPECT_TRUE(all_close(conv(x), by_hand(), 1e-4, 1e-4));
  EXPECT_FALSE(conv.has_cached_weight());  // training: never cached

  conv.eval();
  conv(x);
  EXPECT_FALSE(conv.has_cached_weight());  // grad mode on and the weight requires grad
  {
    NoGradGuard no_grad;
    EXPECT_TRUE(all_close(conv(x), by_hand(), 1e-4, 1e-4));
    EXPECT_TRUE(conv.has_cached_weight());
    EXPECT_TRUE(all_close(conv(x), by_hand(), 1e-4, 1e-4));  // from the cache

    // New memory (Tensor::set_data, as Module::to does) is noticed without any call.
    conv.weight.set_data(randn({4, 3, 1, 1}));
    EXPECT_TRUE(all_close(conv(x), by_hand(), 1e-4, 1e-4));

    // Counted in-place writes (copy_, an optimizer step) move the weight's version: noticed.
    conv.weight.copy_(randn({4, 3, 1, 1}));
    EXPECT_TRUE(all_close(conv(x), by_hand(), 1e-4, 1e-4));

    // Raw writes are not noticed until invalidate_caches() (documented; loaders call it).
    const Tensor before = conv(x);
    float* raw = conv.weight.mutable_data<float>();
    for (int64_t i = 0; i < conv.weight.numel(); ++i) {
      raw[i] = -raw[i] + 0.5f * static_cast<float>(i);
    }
    EXPECT_TRUE(all_close(conv(x), before));  // stale
    EXPECT_FALSE(all_close(by_hand(), before, 1e-4, 1e-4));
    conv.invalidate_caches();
    EXPECT_FALSE(conv.has_cached_weight());
    EXPECT_TRUE(all_close(conv(x), by_hand(), 1e-4, 1e-4));
  }
  conv.train();
  EXPECT_FALSE(conv.has_cached_weight());
  {
    NoGradGuard no_grad;  // training mode without gradients: recomputed, not cached
    EXPECT_TRUE(all_close(conv(x), by_hand(), 1e-4, 1e-4));
    EXPECT_FALSE(conv.has_cached_weight());
  }
  // In training the gradient reaches the raw weight.
  sum(conv(x) * conv(x)).backward();
  EXPECT_TRUE(conv.weight.grad().defined());
}

TEST(NnTest, GroupNormModuleWithFusedRelu) {
  nn::GroupNormOptions options;
  options.groups = 2;
  options.channels = 4;
  options.relu = true;
  nn::GroupNorm gn(options);
  EXPECT_EQ(gn.weight.to_vector<float>(), std::vector<float>(4, 1.0f));
  EXPECT_EQ(gn.bias.to_vector<float>(), std::vector<float>(4, 0.0f));
  gn.weight.copy_(from_vector<float>({1, -1, 1, 1}, {4}));
  // Group 0 = channels 0, 1 = {1,2,3,4} twice: mean 2.5, population var 1.25.
  // Group 1 = channels 2, 3 = {10,10,20,20} twice: mean 15, var 25.
  const Tensor x = from_vector<float>({1, 2, 3, 4, 1, 2, 3, 4, 10, 10, 20, 20, 10, 10, 20, 20},
                                      {1, 4, 2, 2});
  const Tensor y = gn(x);
  const double rstd0 = 1.0 / std::sqrt(1.25 + 1e-5), rstd1 = 1.0 / std::sqrt(25 + 1e-5);
  EXPECT_NEAR(y.at<float>({0, 0, 0, 0}), 0.0, 1e-6);  // -1.5 rstd, clipped by the ReLU
  EXPECT_NEAR(y.at<float>({0, 0, 1, 1}), 1.5 * rstd0, 1e-5);
  EXPECT_NEAR(y.at<float>({0, 1, 0, 0}), 1.5 * rstd0, 1e-5);  // gamma -1 flips the sign
  EXPECT_NEAR(y.at<float>({0, 2, 0, 1}), 0.0, 1e-6);
  EXPECT_NEAR(y.at<float>({0, 3, 1, 0}), 5 * rstd1, 1e-5);
  options.groups = 3;
  EXPECT_TRUE(throws_error([&] { nn::GroupNorm bad(options); }, {"GroupNorm", "3 groups", "4"}));
}

TEST(NnTest, LinearForward) {
  Generator generator(5);
  nn::Linear linear(3, 2, true, generator);
  EXPECT_EQ(linear.weight.shape(), Shape({2, 3}));
  linear.weight.copy_(from_vector<float>({1, 2, 3, -1, 0, 1}, {2, 3}));
  linear.bias.copy_(from_vector<float>({0.5, -0.5}, {2}));
  const Tensor y = linear(from_vector<float>({1, 1, 1, 2, 0, -1}, {2, 3}));
  EXPECT_TRUE(all_close(y, from_vector<float>({6.5, -0.5, -0.5, -3.5}, {2, 2})));
  nn::Linear no_bias(3, 2, false, generator);
  EXPECT_FALSE(no_bias.bias.defined());
  EXPECT_EQ(no_bias.named_parameters().size(), 1u);
}

TEST(NnTest, ZeroPadMaxPoolPadsWithZerosNotMinusInfinity) {
  // An all-negative 4x4 input: every window touching the zero pad yields 0, as in BiT's root;
  // a -inf pad (plain MaxPool2d with padding 1) would yield the negative maxima instead.
  std::vector<float> values(16);
  for (int i = 0; i < 16; ++i) values[i] = -1.0f - i;
  const Tensor x = from_vector(values, {1, 1, 4, 4});
  Pool2dAttrs attrs;
  attrs.kernel = {3, 3};
  attrs.stride = {2, 2};
  nn::ZeroPadMaxPool2d zero_pad(1, attrs);
  // 6x6 after padding, output 2x2. Windows (0,0), (0,1), (1,0) touch the pad -> 0; window (1,1)
  // covers input rows and cols 1..3 -> max -6.
  EXPECT_TRUE(all_close(zero_pad(x), from_vector<float>({0, 0, 0, -6}, {1, 1, 2, 2})));

  attrs.padding = {1, 1};
  nn::MaxPool2d minus_inf_pad(attrs);
  EXPECT_TRUE(all_close(minus_inf_pad(x), from_vector<float>({-1, -2, -5, -6}, {1, 1, 2, 2})));
  EXPECT_TRUE(throws_error([&] { nn::ZeroPadMaxPool2d bad(1, attrs); },
                           {"ZeroPadMaxPool2d", "must not pad"}));
}

}  // namespace
}  // namespace bitgrad
