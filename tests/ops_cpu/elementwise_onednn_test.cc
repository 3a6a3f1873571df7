// The oneDNN relu, affine and binary kernels against the reference kernels, on plain and
// blocked tensors and their mixtures.
#include <cstring>

#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/conv.h"
#include "ops/cpu/common/onednn_layout.h"
#include "ops/elementwise.h"
#include "tests/testing/parity.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::matches_reference;
using testing::random_input;

// x through a 1x1 conv with w: a channel-blocked tensor with w.size(0) channels.
Tensor blocked(const Tensor& x, const Tensor& w) { return conv2d(x, w); }

TEST(ElementwiseOnednnTest, ReluMatchesReferenceOnPlainAndBlocked) {
  EXPECT_TRUE(matches_reference([](const std::vector<Tensor>& in) { return relu(in[0]); },
                                {random_input({3, 5, 7})}));
  for (int64_t channels : {16, 5}) {  // 5: a block with padded channels
    SCOPED_TRACE(channels);
    EXPECT_TRUE(matches_reference(
        [](const std::vector<Tensor>& in) { return relu(blocked(in[0], in[1])); },
        {random_input({2, 8, 5, 3}), random_input({channels, 8, 1, 1})}));
  }
}

TEST(ElementwiseOnednnTest, ReluKeepsTheLayoutAndTheZeroPadding) {
  Tensor x = blocked(randn({2, 8, 3, 3}), randn({5, 8, 1, 1}));
  Tensor y = relu(affine(x, 2.0, 0.0) + x * x);
  ASSERT_FALSE(y.is_plain());
  ASSERT_TRUE(y.opaque_layout()->same_as(*x.opaque_layout()));
  // C = 5: each pixel holds a whole block of floats, and the lanes past 5 must stay 0.
  EXPECT_TRUE(testing::padding_channels_are_zero(y));
}

TEST(ElementwiseOnednnTest, ReluBackwardWithMixedLayouts) {
  Tensor y = relu(blocked(randn({2, 8, 4, 4}), randn({16, 8, 1, 1})));
  Tensor dy = randn({2, 16, 4, 4});
  Tensor dx = call<ReluBwd>(dy, y);
  EXPECT_FALSE(dx.is_plain());
  BackendOverride reference(Backend::kRef);
  EXPECT_TRUE(testing::all_close(dx, call<ReluBwd>(dy, y), 0, 0));
}

TEST(ElementwiseOnednnTest, AffineMatchesReference) {
  for (int64_t channels : {16, 5}) {
    SCOPED_TRACE(channels);
    EXPECT_TRUE(matches_reference(
        [](const std::vector<Tensor>& in) { return affine(blocked(in[0], in[1]), -1.5, 0.25); },
        {random_input({2, 8, 3, 5}), random_input({channels, 8, 1, 1})}));
  }
  EXPECT_TRUE(matches_reference([](const std::vector<Tensor>& in) { return 3.0 * in[0] - 1.0; },
                                {random_input({7, 3})}));
}

// A shift would fill a blocked layout's padding lanes (C = 5) with itself; oneDNN's primitives
// count on blocked inputs' padding being zero, so y keeps it zero (or is plain).
TEST(ElementwiseOnednnTest, AffineWithAShiftKeepsThePaddingZero) {
  Tensor x = blocked(randn({2, 8, 3, 3}), randn({5, 8, 1, 1}));
  ASSERT_FALSE(x.is_plain());
  Tensor y = affine(x, 2.0, 0.5);
  if (!y.is_plain()) {
    EXPECT_TRUE(testing::padding_channels_are_zero(y));
  }
}

using BinaryFn = Tensor (*)(const Tensor&, const Tensor&);

TEST(ElementwiseOnednnTest, BinaryOpsMatchReferenceForEveryLayoutMix) {
  struct Case {
    const char* name;
    Shape a, b;
    bool a_blocked, b_blocked;
    // What the CPU kernels hand to the reference ones: a gradient summed over two blocks of dims,
    // or a broadcast oneDNN's binary primitive does not take.
    std::vector<std::string> fallbacks = {};
  };
  std::vector<Case> cases = {
      {"plain same shape", {2, 16, 3, 4}, {2, 16, 3, 4}, false, false},
      {"blocked same shape", {2, 16, 3, 4}, {2, 16, 3, 4}, true, true},
      {"blocked + plain", {2, 16, 3, 4}, {2, 16, 3, 4}, true, false},
      {"plain + blocked", {2, 16, 3, 4}, {2, 16, 3, 4}, false, true},
      {"padded blocked", {2, 5, 3, 4}, {2, 5, 3, 4}, true, true},
      {"blocked + per-channel", {2, 16, 3, 4}, {1, 16, 1, 1}, true, false, {"SumFwd"}},
      {"blocked + (C, 1, 1)", {2, 16, 3, 4}, {16, 1, 1}, true, false, {"SumFwd"}},
      {"padded blocked + per-channel", {2, 5, 3, 4}, {5, 1, 1}, true, false, {"SumFwd"}},
      {"blocked + per-pixel", {2, 16, 3, 4}, {2, 1, 3, 4}, true, false},
      {"per-channel + blocked", {1, 16, 1, 1}, {2, 16, 3, 4}, false, true, {"BinaryFwd", "SumFwd"}},
      {"plain row broadcast", {5, 7}, {7}, false, false},
      {"plain column broadcast", {5, 7}, {5, 1}, false, false},
      {"both broadcast", {5, 1}, {1, 7}, false, false, {"BinaryFwd"}},
      {"scalar", {5, 7}, {}, false, false, {"BinaryFwd"}},
  };
  // A blocked operand is a 1x1 conv of a plain input (inputs 0, 1) with a weight (inputs 2, 3).
  auto input = [](const Shape& s, bool is_blocked) {
    return is_blocked ? random_input({s[0], 8, s[2], s[3]}) : random_input(s);
  };
  auto weight = [](const Shape& s, bool is_blocked) {
    return is_blocked ? random_input({s[1], 8, 1, 1}) : Tensor();
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    bool a_blocked = c.a_blocked, b_blocked = c.b_blocked;
    auto operand = [](const std::vector<Tensor>& in, size_t i, bool is_blocked) {
      return is_blocked ? blocked(in[i], in[i + 2]) : in[i];
    };
    for (BinaryFn op : {&add, &sub, &mul, &div}) {
      std::vector<Tensor> inputs = {input(c.a, a_blocked), input(c.b, b_blocked),
                                    weight(c.a, a_blocked), weight(c.b, b_blocked)};
      if (op == &div) {  // keep the divisor away from zero
        if (b_blocked) {
          inputs[1] = rand({c.b[0], 8, c.b[2], c.b[3]}, 1.0, 2.0).set_requires_grad();
          inputs[3] = rand({c.b[1], 8, 1, 1}, 0.5, 1.0).set_requires_grad();
        } else {
          inputs[1] = rand(c.b, 1.0, 2.0).set_requires_grad();
        }
      }
      EXPECT_TRUE(matches_reference(
          [&](const std::vector<Tensor>& in) {
            return op(operand(in, 0, a_blocked), operand(in, 1, b_blocked));
          },
          inputs, testing::allowing_reference_kernels(c.fallbacks)));
    }
  }
}

}  // namespace
}  // namespace bitgrad
