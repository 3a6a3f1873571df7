// Chains of ops that keep activations blocked between oneDNN kernels, mixed with plain-only
// kernels (group_norm), against the same chains on the reference kernels, forward and backward.
#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/math_mode.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/loss.h"
#include "ops/norm.h"
#include "ops/pad.h"
#include "ops/pool.h"
#include "ops/reduce.h"
#include "ops/reshape.h"
#include "tests/testing/parity.h"

namespace bitgrad {
namespace {

using testing::matches_reference;
using testing::random_input;

TEST(ChainOnednnTest, ConvReluConvPoolAdd) {
  // conv -> relu -> conv -> pool, plus a strided shortcut conv added on.
  auto chain = [](const std::vector<Tensor>& in) {
    Tensor h = relu(conv2d(in[0], in[1], Tensor(), {{1, 1}, {1, 1}}));
    h = conv2d(h, in[2], Tensor(), {{1, 1}, {1, 1}});
    Tensor pooled = max_pool2d(h, {{3, 3}, {2, 2}, {1, 1}});
    Tensor shortcut = conv2d(in[0], in[3], Tensor(), {{2, 2}, {0, 0}});
    Tensor out = pooled + shortcut;
    EXPECT_TRUE(in[0].requires_grad());
    return out;
  };
  EXPECT_TRUE(matches_reference(chain, {random_input({2, 16, 10, 10}),
                                        random_input({16, 16, 3, 3}),
                                        random_input({24, 16, 3, 3}),
                                        random_input({24, 16, 1, 1})}));
  // Odd channel counts and sizes.
  EXPECT_TRUE(matches_reference(chain, {random_input({2, 5, 9, 9}), random_input({7, 5, 3, 3}),
                                        random_input({6, 7, 3, 3}), random_input({6, 5, 1, 1})}));
}

TEST(ChainOnednnTest, GroupNormReadsAndWritesBlockedTensors) {
  Tensor blocked = conv2d(randn({2, 8, 5, 5}), randn({16, 8, 1, 1}));
  ASSERT_FALSE(blocked.is_plain());
  EXPECT_FALSE(group_norm(blocked, randn({16}), randn({16}), GroupNormAttrs{4}).is_plain());
  for (int64_t channels : {16, 12}) {  // 12: a padded last channel block
    for (bool fused_relu : {false, true}) {
      SCOPED_TRACE(::testing::Message() << channels << " channels, relu " << fused_relu);
      GroupNormAttrs attrs{4, 1e-5, fused_relu};
      EXPECT_TRUE(matches_reference(
          [&](const std::vector<Tensor>& in) {
            return group_norm(conv2d(in[0], in[1]), in[2], in[3], attrs);
          },
          {random_input({2, 8, 5, 3}), random_input({channels, 8, 1, 1}),
           random_input({channels}), random_input({channels})}));
    }
  }
}

// A miniature BiT-ResNet-v2: root conv, zero pad, max pool, one pre-activation bottleneck unit
// with a projection, final GN + ReLU, global average pool, head conv with bias, cross-entropy.
Tensor tiny_bit(const std::vector<Tensor>& p) {
  const Tensor &image = p[0], &labels = p[1];
  auto std_conv = [](const Tensor& x, const Tensor& w, Conv2dAttrs attrs) {
    return conv2d(x, weight_standardize(w), Tensor(), attrs);
  };
  auto gn_relu = [](const Tensor& x, const Tensor& gamma, const Tensor& beta) {
    return relu(group_norm(x, gamma, beta, GroupNormAttrs{4}));
  };
  Tensor x = std_conv(image, p[2], {{2, 2}, {3, 3}});
  x = max_pool2d(pad(x, {1, 1, 1, 1}), {{3, 3}, {2, 2}, {0, 0}});
  Tensor pre = gn_relu(x, p[3], p[4]);
  Tensor shortcut = std_conv(pre, p[5], {{2, 2}, {0, 0}});
  Tensor h = std_conv(pre, p[6], {});
  h = std_conv(gn_relu(h, p[7], p[8]), p[9], {{2, 2}, {1, 1}});
  h = std_conv(gn_relu(h, p[10], p[11]), p[12], {});
  x = gn_relu(h + shortcut, p[13], p[14]);
  Tensor logits = conv2d(mean(x, {2, 3}, true), p[15], p[16]);
  return cross_entropy(flatten(logits, 1), labels);
}

std::vector<Tensor> tiny_bit_inputs() {
  const int64_t c = 16, mid = 8, out = 32, classes = 10;
  Tensor labels = from_vector<int64_t>({3, 7}, {2});
  std::vector<Tensor> params = {
      random_input({2, 3, 32, 32}, false), labels,
      random_input({c, 3, 7, 7}),
      (1.0 + 0.1 * randn({c})).detach().set_requires_grad(), random_input({c}),
      random_input({out, c, 1, 1}), random_input({mid, c, 1, 1}),
      (1.0 + 0.1 * randn({mid})).detach().set_requires_grad(), random_input({mid}),
      random_input({mid, mid, 3, 3}),
      (1.0 + 0.1 * randn({mid})).detach().set_requires_grad(), random_input({mid}),
      random_input({out, mid, 1, 1}),
      (1.0 + 0.1 * randn({out})).detach().set_requires_grad(), random_input({out}),
      random_input({classes, out, 1, 1}), random_input({classes}),
  };
  return params;
}

TEST(ChainOnednnTest, TinyBitForwardAndBackward) {
  testing::ParityOptions options;
  options.rtol = 1e-3;
  options.atol = 1e-4;
  EXPECT_TRUE(matches_reference(tiny_bit, tiny_bit_inputs(), options));
}

// Under bf16 autocast (ops/cpu/conv/bf16.h) the convs' results, converted back from bf16, flow
// through GroupNorm, ReLU, the residual additions and backward in the layouts those kernels
// take, and match the reference kernels' autocast (operands and results rounded to bf16, sums
// exact): float32 sums in another order flip a result's last bf16 bit here and there.
TEST(ChainOnednnTest, TinyBitUnderBf16Autocast) {
  if (!bf16_autocast_problem(DeviceType::kCPU).empty()) GTEST_SKIP() << "no bf16 on this CPU";
  const std::vector<Tensor> inputs = tiny_bit_inputs();
  testing::ParityOptions options;
  options.rtol = 2e-2;
  options.atol = 2e-3;
  ScopedBf16Autocast bf16;
  EXPECT_TRUE(matches_reference(tiny_bit, inputs, options));
}

}  // namespace
}  // namespace bitgrad
