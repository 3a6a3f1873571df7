// The oneDNN conv2d kernels against the reference kernels, forward and backward.
#include "ops/conv.h"

#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/cpu/common/onednn_layout.h"
#include "ops/elementwise.h"
#include "tests/testing/parity.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::close_to;
using testing::matches_reference;
using testing::random_input;
using testing::throws_error;

struct ConvCase {
  const char* name;
  Shape x, w;
  Conv2dAttrs attrs;
  bool bias = false;
};

std::vector<ConvCase> conv_cases() {
  return {
      {"bit_root_7x7_s2_p3", {2, 3, 19, 19}, {8, 3, 7, 7}, {{2, 2}, {3, 3}}},
      {"pointwise", {2, 16, 8, 8}, {24, 16, 1, 1}, {}},
      {"odd_channels_3x3", {2, 5, 9, 7}, {7, 5, 3, 3}, {{1, 1}, {1, 1}}},
      {"strided_3x3", {2, 16, 9, 9}, {16, 16, 3, 3}, {{2, 2}, {1, 1}}},
      {"projection_1x1_s2", {2, 16, 9, 9}, {32, 16, 1, 1}, {{2, 2}, {0, 0}}},
      {"dilated", {2, 8, 9, 9}, {8, 8, 3, 3}, {{1, 1}, {2, 2}, {2, 2}}},
      {"groups", {2, 12, 7, 7}, {20, 3, 3, 3}, {{1, 1}, {1, 1}, {1, 1}, 4}},
      {"depthwise", {2, 16, 7, 7}, {16, 1, 3, 3}, {{1, 1}, {1, 1}, {1, 1}, 16}},
      {"head_with_bias", {2, 32, 1, 1}, {10, 32, 1, 1}, {}, true},
      {"bias_odd_output", {3, 8, 6, 5}, {5, 8, 3, 3}, {{1, 1}, {1, 1}}, true},
      {"asymmetric", {2, 8, 10, 7}, {16, 8, 3, 2}, {{2, 1}, {1, 0}}},
      {"asymmetric_dilation", {2, 8, 9, 10}, {8, 8, 3, 3}, {{1, 1}, {1, 2}, {1, 2}}},
  };
}

TEST(ConvOnednnTest, ForwardAndBackwardMatchReference) {
  for (const ConvCase& c : conv_cases()) {
    SCOPED_TRACE(c.name);
    Tensor x = random_input(c.x);
    Tensor w = random_input(c.w);
    Tensor b = c.bias ? random_input({c.w[0]}) : Tensor();
    Conv2dAttrs attrs = c.attrs;
    // A bias's gradient over a map larger than 1x1 sums two blocks of dims, (N) and (OH, OW):
    // the CPU sum hands that to the reference kernel.
    const bool summed_in_two_blocks = c.bias && c.x[2] * c.x[3] > 1;
    EXPECT_TRUE(matches_reference(
        [&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], attrs); },
        {x, w, b},
        testing::allowing_reference_kernels(
            summed_in_two_blocks ? std::vector<std::string>{"SumFwd"}
                                 : std::vector<std::string>{})));
  }
}

// conv2d_add: plain and blocked addends, 1x1 convs (the sum post-op) and 3x3 ones (a conv and an
// add where another algorithm runs the forward), forward and backward.
TEST(ConvOnednnTest, ConvAddMatchesReference) {
  for (const ConvCase& c : conv_cases()) {
    if (c.bias || c.attrs.groups > 1) continue;
    SCOPED_TRACE(c.name);
    const Shape y = conv2d_output_shape(c.x, c.w, c.attrs);
    Conv2dAttrs attrs = c.attrs;
    auto fn = [&](const std::vector<Tensor>& in) { return conv2d_add(in[0], in[1], in[2], attrs); };
    EXPECT_TRUE(matches_reference(fn, {random_input(c.x), random_input(c.w), random_input(y)}));
    if (y[1] % 8 == 0) {  // an addend in the conv's blocked layout, as the residual is
      EXPECT_TRUE(matches_reference(fn, {random_input(c.x), random_input(c.w),
                                         testing::blocked_input(y, true)}));
    }
  }
}

// An addend given up (moved in) and shared with no one takes the result (inference's residual
// addition, no pass of its own); one the caller keeps, or another handle shares, stays as it was.
TEST(ConvOnednnTest, ConvAddReusesOnlyAnAddendGivenUpAndUnshared) {
  const Shape x_shape{2, 16, 8, 8}, w_shape{32, 16, 1, 1}, y_shape{2, 32, 8, 8};
  const Tensor x = testing::blocked_input(x_shape), w = random_input(w_shape, false);
  const Tensor values = testing::blocked_input(y_shape);
  const Tensor expected = conv2d(x, w) + values;

  Tensor kept = values.clone();  // kept by the caller
  EXPECT_TRUE(testing::all_close(conv2d_add(x, w, kept), expected, 1e-5, 1e-5));
  EXPECT_TRUE(testing::all_close(kept, values, 0, 0));

  Tensor given = values.clone(), other_handle = given;  // given up, but shared
  EXPECT_TRUE(testing::all_close(conv2d_add(x, w, std::move(given)), expected, 1e-5, 1e-5));
  EXPECT_TRUE(testing::all_close(other_handle, values, 0, 0));

  Tensor alone = testing::blocked_input(y_shape);  // in the conv's output layout
  const Tensor expected_alone = conv2d(x, w) + alone;
  const void* memory = alone.raw_data();
  Tensor y = conv2d_add(x, w, std::move(alone));
  EXPECT_EQ(y.raw_data(), memory);  // computed in place
  EXPECT_TRUE(testing::all_close(y, expected_alone, 1e-5, 1e-5));
}

// Primitives are cached by geometry: a conv without bias must not hand its primitive (which
// takes no bias) to a conv of the same geometry with one, nor the other way round. Strided, so
// that oneDNN's direct convolution runs with and without bias under every ISA's rules.
TEST(ConvOnednnTest, ConvsWithAndWithoutBiasOfOneGeometryStayApart) {
  const Tensor x = random_input({2, 8, 6, 5}, false), w = random_input({6, 8, 3, 3}, false);
  const Tensor bias = random_input({6}, false);
  const Conv2dAttrs attrs{{2, 2}, {1, 1}};
  const Tensor without = conv2d(x, w, Tensor(), attrs), with = conv2d(x, w, bias, attrs);
  const Tensor without_again = conv2d(x, w, Tensor(), attrs);
  BackendOverride reference(Backend::kRef);
  EXPECT_TRUE(close_to(with, conv2d(x, w, bias, attrs)));
  EXPECT_TRUE(close_to(without, conv2d(x, w, Tensor(), attrs)));
  EXPECT_TRUE(close_to(without_again, conv2d(x, w, Tensor(), attrs)));
}

TEST(ConvOnednnTest, OutputIsBlockedAndRootReadsPlainImage) {
  Tensor image = random_input({2, 3, 16, 16}, false);
  Tensor y = conv2d(image, random_input({16, 3, 7, 7}, false), Tensor(), {{2, 2}, {3, 3}});
  ASSERT_FALSE(y.is_plain());
  EXPECT_EQ(y.opaque_layout()->name(), testing::native_blocked_layout_name());
  // A second conv consumes the blocked tensor directly and stays blocked.
  Tensor z = conv2d(y, random_input({8, 16, 3, 3}, false), Tensor(), {{1, 1}, {1, 1}});
  EXPECT_FALSE(z.is_plain());
}

TEST(ConvOnednnTest, BackwardKernelsAcceptEitherLayoutOfDy) {
  Shape x_shape = {2, 16, 9, 9};
  Tensor x = random_input(x_shape, false);
  Tensor w = random_input({16, 16, 3, 3}, false);
  Conv2dAttrs attrs{{1, 1}, {1, 1}};
  Tensor dy_plain = random_input({2, 16, 9, 9}, false);
  Tensor dy_blocked = conv2d(dy_plain, random_input({16, 16, 1, 1}, false), Tensor(), {});
  ASSERT_FALSE(dy_blocked.is_plain());
  for (const Tensor& dy : {dy_plain, dy_blocked}) {
    Tensor dx = call<Conv2dBwdData>(dy, w, x_shape, attrs);
    Tensor dw = call<Conv2dBwdWeight>(dy, x, w.shape(), attrs);
    EXPECT_TRUE(dw.is_plain());
    BackendOverride reference(Backend::kRef);
    EXPECT_TRUE(close_to(dx, call<Conv2dBwdData>(dy, w, x_shape, attrs)));
    EXPECT_TRUE(close_to(dw, call<Conv2dBwdWeight>(dy, x, w.shape(), attrs)));
  }
}

TEST(ConvOnednnTest, Float64RunsTheReferenceKernel) {
  Tensor x = randn({1, 3, 5, 5}, DType::kFloat64);
  Tensor w = randn({4, 3, 3, 3}, DType::kFloat64);
  Tensor y = conv2d(x, w, Tensor(), {{1, 1}, {1, 1}});
  EXPECT_EQ(y.dtype(), DType::kFloat64);
  BackendOverride reference(Backend::kRef);
  EXPECT_TRUE(testing::all_close(y, conv2d(x, w, Tensor(), {{1, 1}, {1, 1}}), 0, 0));
}

TEST(ConvOnednnTest, EmptyBatchRunsTheReferenceKernel) {
  Tensor y = conv2d(zeros({0, 3, 5, 5}), randn({4, 3, 3, 3}));
  EXPECT_EQ(y.shape(), (Shape{0, 4, 3, 3}));
}

TEST(ConvOnednnTest, ErrorsNameTheOpAndShapes) {
  Tensor x = zeros({2, 4, 5, 5});
  EXPECT_TRUE(throws_error(
      [&] { call<Conv2dFwd>(x, zeros({3, 5, 3, 3}), Tensor(), Conv2dAttrs{}); },
      {"conv2d", "(3, 5, 3, 3)", "(2, 4, 5, 5)"}));
  EXPECT_TRUE(throws_error(
      [&] {
        call<Conv2dBwdData>(zeros({2, 3, 4, 4}), zeros({3, 4, 3, 3}), x.shape(), Conv2dAttrs{});
      },
      {"conv2d backward data", "(2, 3, 4, 4)", "(2, 3, 3, 3)"}));
  EXPECT_TRUE(throws_error(
      [&] { call<Conv2dBwdWeight>(zeros({2, 3, 4, 4}), x, Shape{3, 4, 3, 3}, Conv2dAttrs{}); },
      {"conv2d backward weight", "(2, 3, 4, 4)", "(2, 3, 3, 3)"}));
  EXPECT_TRUE(throws_error(
      [&] { call<Conv2dFwd>(x, zeros({3, 4, 3, 3}), zeros({4}), Conv2dAttrs{}); },
      {"conv2d", "bias", "(4)"}));
}

}  // namespace
}  // namespace bitgrad
