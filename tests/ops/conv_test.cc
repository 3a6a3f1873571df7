#include "ops/conv.h"

#include <vector>

#include "core/dtype.h"
#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "ops/math_mode.h"
#include "ops/pad.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gradcheck.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::gradcheck;
using testing::throws_error;

Conv2dAttrs make_attrs(int64_t stride, int64_t padding, int64_t dilation = 1, int64_t groups = 1) {
  return Conv2dAttrs{{stride, stride}, {padding, padding}, {dilation, dilation}, groups};
}

// An independent formulation: per group, unfold the (zero-padded) input into a matrix whose
// columns are the receptive fields (im2col), multiply by the group's weights as a matrix and add
// the bias. Plain vectors and loops in double; shares no code with the kernels.
Tensor conv2d_by_im2col(const Tensor& x, const Tensor& w, const Tensor& bias,
                        const Conv2dAttrs& a) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), CG = w.size(1), KH = w.size(2), KW = w.size(3);
  const int64_t G = a.groups, OG = O / G;
  const int64_t OH = (H + 2 * a.padding[0] - a.dilation[0] * (KH - 1) - 1) / a.stride[0] + 1;
  const int64_t OW = (W + 2 * a.padding[1] - a.dilation[1] * (KW - 1) - 1) / a.stride[1] + 1;
  std::vector<double> xs = x.to_vector<double>(), ws = w.to_vector<double>();
  std::vector<double> bs = bias.defined() ? bias.to_vector<double>() : std::vector<double>(O, 0.0);
  std::vector<double> out(N * O * OH * OW, 0.0);
  const int64_t rows = CG * KH * KW, cols = N * OH * OW;
  for (int64_t g = 0; g < G; ++g) {
    std::vector<double> unfolded(rows * cols, 0.0);  // rows: (c, kh, kw); cols: (n, oh, ow)
    for (int64_t r = 0; r < rows; ++r) {
      int64_t c = r / (KH * KW), kh = r / KW % KH, kw = r % KW;
      for (int64_t col = 0; col < cols; ++col) {
        int64_t n = col / (OH * OW), oh = col / OW % OH, ow = col % OW;
        int64_t h = oh * a.stride[0] + kh * a.dilation[0] - a.padding[0];
        int64_t v = ow * a.stride[1] + kw * a.dilation[1] - a.padding[1];
        if (h >= 0 && h < H && v >= 0 && v < W) {
          unfolded[r * cols + col] = xs[((n * C + g * CG + c) * H + h) * W + v];
        }
      }
    }
    // (OG x rows) weight matrix times (rows x cols) unfolded input.
    for (int64_t og = 0; og < OG; ++og) {
      int64_t o = g * OG + og;
      for (int64_t col = 0; col < cols; ++col) {
        double total = bs[o];
        for (int64_t r = 0; r < rows; ++r) total += ws[o * rows + r] * unfolded[r * cols + col];
        int64_t n = col / (OH * OW), pixel = col % (OH * OW);
        out[(n * O + o) * OH * OW + pixel] = total;
      }
    }
  }
  return from_vector(out, {N, O, OH, OW});
}

// Every test runs the reference kernels, whatever faster backends are linked in.
class Conv2dTest : public ::testing::Test {
  BackendOverride reference_{Backend::kRef};
};

// ---------------------------------------------------------------------------------------------
// Forward values.

TEST_F(Conv2dTest, HandComputedCrossCorrelation) {
  // Cross-correlation, not a flipped convolution: a flipped kernel would give 17 at (0, 0).
  Tensor x = from_vector<float>({1, 2, 0, 4, -1, 3, 2, 5, 1}, {1, 1, 3, 3});
  Tensor w = from_vector<float>({1, 2, 3, 4}, {1, 1, 2, 2});
  EXPECT_TRUE(all_close(conv2d(x, w), from_vector<float>({13, 11, 28, 24}, {1, 1, 2, 2})));
  Tensor bias = from_vector<float>({0.5f}, {1});
  EXPECT_TRUE(all_close(conv2d(x, w, bias), from_vector<float>({13.5, 11.5, 28.5, 24.5},
                                                               {1, 1, 2, 2})));
}

// No input channels: every output is the bias, with the reference kernels and with oneDNN.
TEST(Conv2dEmptyInputTest, EveryOutputIsTheBias) {
  const Tensor bias = from_vector<float>({0.5f, -1, 2}, {3});
  for (const Backend backend : {Backend::kRef, Backend::kCpu}) {
    BackendOverride use{backend};
    const Tensor y = conv2d(zeros({2, 0, 4, 4}), zeros({3, 0, 3, 3}), bias);
    ASSERT_EQ(y.shape(), Shape({2, 3, 2, 2}));
    const std::vector<float> values = y.to_vector<float>();
    for (int64_t i = 0; i < y.numel(); ++i) {
      EXPECT_EQ(values[i], bias.to_vector<float>()[i / 4 % 3]) << "output " << i;
    }
  }
}

TEST_F(Conv2dTest, HandComputedStridePaddingDilation) {
  Tensor x = from_vector<double>({1, 2, 0, 4, -1, 3, 2, 5, 1}, {1, 1, 3, 3});
  // 3x3 of ones, stride 2, padding 1: each output sums the 2x2 corner of x it overlaps.
  Tensor ones3 = ones({1, 1, 3, 3}, DType::kFloat64);
  EXPECT_TRUE(all_close(conv2d(x, ones3, Tensor(), make_attrs(2, 1)),
                        from_vector<double>({6, 4, 10, 8}, {1, 1, 2, 2})));
  // 2x2 kernel with dilation 2 on a 3x3 input reads the four corners.
  Tensor w = from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2});
  EXPECT_TRUE(all_close(conv2d(x, w, Tensor(), make_attrs(1, 0, 2)),
                        from_vector<double>({1 * 1 + 2 * 0 + 3 * 2 + 4 * 1}, {1, 1, 1, 1})));
  // Padding 1 with a 1x1 kernel: a zero border around 2 * x.
  Tensor two = full({1, 1, 1, 1}, 2.0, DType::kFloat64);
  Tensor y = conv2d(x, two, Tensor(), make_attrs(1, 1));
  ASSERT_EQ(y.shape(), Shape({1, 1, 5, 5}));
  EXPECT_EQ(y.at<double>({0, 0, 0, 0}), 0.0);
  EXPECT_EQ(y.at<double>({0, 0, 4, 2}), 0.0);
  EXPECT_EQ(y.at<double>({0, 0, 2, 1}), 8.0);
  EXPECT_EQ(y.at<double>({0, 0, 2, 2}), -2.0);
}

TEST_F(Conv2dTest, HandComputedGroupsKeepChannelsApart) {
  Tensor x = from_vector<float>({2, 3}, {1, 2, 1, 1});
  Tensor w = from_vector<float>({10, 100}, {2, 1, 1, 1});
  Tensor bias = from_vector<float>({1, -1}, {2});
  EXPECT_TRUE(all_close(conv2d(x, w, bias, make_attrs(1, 0, 1, 2)),
                        from_vector<float>({21, 299}, {1, 2, 1, 1})));
  // Two groups of two input channels, one output each: o0 sees c0, c1; o1 sees c2, c3.
  Tensor x4 = from_vector<float>({1, 2, 3, 4}, {1, 4, 1, 1});
  Tensor w4 = from_vector<float>({1, 10, 100, 1000}, {2, 2, 1, 1});
  EXPECT_TRUE(all_close(conv2d(x4, w4, Tensor(), make_attrs(1, 0, 1, 2)),
                        from_vector<float>({21, 4300}, {1, 2, 1, 1})));
}

struct ConvCase {
  Shape x, w;
  Conv2dAttrs attrs;
  bool bias;
};

std::vector<ConvCase> forward_cases() {
  return {
      {{2, 3, 5, 5}, {4, 3, 3, 3}, make_attrs(1, 0), true},
      {{2, 3, 7, 6}, {4, 3, 3, 3}, make_attrs(1, 1), false},
      {{1, 2, 9, 9}, {3, 2, 7, 7}, make_attrs(2, 3), false},      // BiT root, small
      {{2, 4, 7, 7}, {6, 4, 3, 3}, make_attrs(2, 1), true},       // BiT 3x3 stride 2
      {{2, 4, 7, 6}, {8, 4, 1, 1}, make_attrs(2, 0), false},      // BiT 1x1 projection, odd
      {{1, 3, 8, 9}, {4, 3, 3, 3}, make_attrs(1, 2, 2), true},    // dilation 2
      {{2, 4, 6, 5}, {6, 2, 3, 3}, make_attrs(1, 1, 1, 2), true}, // 2 groups
      {{1, 6, 7, 7}, {6, 1, 3, 3}, make_attrs(2, 1, 1, 6), true}, // depthwise
      {{1, 6, 9, 8}, {12, 2, 2, 3}, Conv2dAttrs{{1, 2}, {0, 1}, {2, 1}, 3}, true},
  };
}

TEST_F(Conv2dTest, MatchesIm2colFormulationFloat64AndFloat32) {
  for (const ConvCase& c : forward_cases()) {
    SCOPED_TRACE(::testing::Message() << "x " << c.x << " w " << c.w << " groups "
                                      << c.attrs.groups);
    Tensor x = randn(c.x, DType::kFloat64);
    Tensor w = randn(c.w, DType::kFloat64);
    Tensor bias = c.bias ? randn({c.w[0]}, DType::kFloat64) : Tensor();
    Tensor expected = conv2d_by_im2col(x, w, bias, c.attrs);
    EXPECT_TRUE(all_close(conv2d(x, w, bias, c.attrs), expected, 1e-12, 1e-12));
    Tensor bias32 = c.bias ? bias.to(DType::kFloat32) : Tensor();
    Tensor y32 = conv2d(x.to(DType::kFloat32), w.to(DType::kFloat32), bias32, c.attrs);
    EXPECT_EQ(y32.dtype(), DType::kFloat32);
    EXPECT_TRUE(all_close(y32, expected, 1e-5, 1e-5));
  }
}

TEST_F(Conv2dTest, PaddingEqualsZeroPadThenValidConv) {
  Tensor x = randn({2, 3, 7, 6}, DType::kFloat64);
  Tensor w = randn({4, 3, 3, 3}, DType::kFloat64);
  for (int64_t padding : {1, 2, 3}) {
    Tensor padded = pad(x, {padding, padding, padding, padding});
    EXPECT_TRUE(all_close(conv2d(x, w, Tensor(), make_attrs(2, padding)),
                          conv2d(padded, w, Tensor(), make_attrs(2, 0)), 1e-12, 1e-12));
  }
}

TEST_F(Conv2dTest, DilationEqualsKernelWithZerosInserted) {
  Tensor x = randn({1, 2, 9, 8}, DType::kFloat64);
  Tensor w = randn({3, 2, 2, 3}, DType::kFloat64);
  // Dilation 3: taps 3 apart, i.e. a 4x7 kernel with zeros between the taps.
  Tensor spread = zeros({3, 2, 4, 7}, DType::kFloat64);
  for (int64_t o = 0; o < 3; ++o)
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t kh = 0; kh < 2; ++kh)
        for (int64_t kw = 0; kw < 3; ++kw) spread.at<double>({o, c, 3 * kh, 3 * kw}) =
            w.at<double>({o, c, kh, kw});
  EXPECT_TRUE(all_close(conv2d(x, w, Tensor(), make_attrs(1, 1, 3)),
                        conv2d(x, spread, Tensor(), make_attrs(1, 1)), 1e-12, 1e-12));
}

TEST_F(Conv2dTest, StrideSubsamplesTheStrideOneOutput) {
  Tensor x = randn({1, 2, 9, 7}, DType::kFloat64);
  Tensor w = randn({3, 2, 3, 3}, DType::kFloat64);
  Tensor dense = conv2d(x, w, Tensor(), make_attrs(1, 1));
  Tensor strided = conv2d(x, w, Tensor(), make_attrs(2, 1));
  ASSERT_EQ(strided.shape(), Shape({1, 3, 5, 4}));
  for (int64_t o = 0; o < 3; ++o)
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 4; ++j)
        EXPECT_DOUBLE_EQ(strided.at<double>({0, o, i, j}), dense.at<double>({0, o, 2 * i, 2 * j}));
}

TEST_F(Conv2dTest, GroupsEqualSeparateConvsConcatenated) {
  // Channel slices and concatenation are built from pad(): negative amounts crop channels,
  // positive ones place a group's output among zeros.
  const int64_t groups = 3, c_in = 6, c_out = 9;
  Tensor x = randn({2, c_in, 5, 6}, DType::kFloat64);
  Tensor w = randn({c_out, c_in / groups, 3, 3}, DType::kFloat64);
  Tensor expected = zeros({2, c_out, 5, 6}, DType::kFloat64);
  const int64_t ci = c_in / groups, co = c_out / groups;
  for (int64_t g = 0; g < groups; ++g) {
    Tensor x_g = pad(x, {0, 0, 0, 0, -g * ci, -(c_in - (g + 1) * ci)});
    Tensor w_g = pad(w, {0, 0, 0, 0, 0, 0, -g * co, -(c_out - (g + 1) * co)});
    Tensor y_g = conv2d(x_g, w_g, Tensor(), make_attrs(1, 1));
    expected = expected + pad(y_g, {0, 0, 0, 0, g * co, c_out - (g + 1) * co});
  }
  EXPECT_TRUE(all_close(conv2d(x, w, Tensor(), make_attrs(1, 1, 1, groups)), expected, 1e-12,
                        1e-12));
}

// bf16 autocast (ops/math_mode.h), as the reference kernels specify it: float32 operands
// rounded to bf16, an exact sum, the bias added, the result rounded to bf16; the weight gradient
// is the float32 one; float64 is never cast.
float to_bf16(float v) { return static_cast<float>(BFloat16(v)); }

Tensor rounded_to_bf16(const Tensor& t) {
  std::vector<float> values = t.to_vector<float>();
  for (float& v : values) v = to_bf16(v);
  return from_vector(values, t.shape());
}

TEST_F(Conv2dTest, Bf16AutocastRoundsTheOperandsAndTheResult) {
  const Conv2dAttrs attrs = make_attrs(2, 1);
  const Tensor x = randn({2, 5, 9, 7}), w = randn({6, 5, 3, 3}), bias = randn({6});
  const Tensor dy = randn(conv2d_output_shape(x.shape(), w.shape(), attrs));
  const Tensor x64 = x.to(DType::kFloat64), w64 = w.to(DType::kFloat64);
  Tensor y, dx, dw, y64;
  {
    ScopedBf16Autocast bf16;
    y = conv2d(x, w, bias, attrs);
    dx = call<Conv2dBwdData>(dy, w, x.shape(), attrs);
    dw = call<Conv2dBwdWeight>(dy, x, w.shape(), attrs);
    y64 = conv2d(x64, w64, Tensor(), attrs);
  }
  // The forward against the independent im2col formulation, in double on the rounded operands.
  const std::vector<double> exact =
      conv2d_by_im2col(rounded_to_bf16(x).to(DType::kFloat64),
                       rounded_to_bf16(w).to(DType::kFloat64), bias.to(DType::kFloat64), attrs)
          .to_vector<double>();
  const std::vector<float> got = y.to_vector<float>();
  ASSERT_EQ(got.size(), exact.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], to_bf16(got[i])) << "element " << i << " is not a bf16 value";
    ASSERT_NEAR(got[i], exact[i], std::abs(exact[i]) / 256) << "element " << i;
  }
  EXPECT_TRUE(testing::same_bits(
      dx, rounded_to_bf16(call<Conv2dBwdData>(rounded_to_bf16(dy), rounded_to_bf16(w),
                                              x.shape(), attrs))));
  EXPECT_TRUE(testing::same_bits(dw, call<Conv2dBwdWeight>(dy, x, w.shape(), attrs)));
  EXPECT_TRUE(testing::same_bits(y64, conv2d(x64, w64, Tensor(), attrs)));
}

// ---------------------------------------------------------------------------------------------
// Gradients.

TEST_F(Conv2dTest, GradcheckInputWeightAndBias) {
  for (const ConvCase& c : forward_cases()) {
    SCOPED_TRACE(::testing::Message() << "x " << c.x << " w " << c.w << " groups "
                                      << c.attrs.groups);
    Tensor x = randn(c.x, DType::kFloat64).set_requires_grad();
    Tensor w = randn(c.w, DType::kFloat64).set_requires_grad();
    Tensor bias = c.bias ? randn({c.w[0]}, DType::kFloat64).set_requires_grad() : Tensor();
    Conv2dAttrs attrs = c.attrs;
    EXPECT_TRUE(gradcheck(
        [attrs](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], attrs); },
        {x, w, bias}));
  }
}

TEST_F(Conv2dTest, GradcheckWeightOnly) {
  // Only the weight wants a gradient: the data kernel is skipped, the weight one must not care.
  Tensor x = randn({2, 3, 6, 5}, DType::kFloat64);
  Tensor w = randn({4, 3, 3, 3}, DType::kFloat64).set_requires_grad();
  auto fn = [](const std::vector<Tensor>& in) {
    return conv2d(in[0], in[1], Tensor(), make_attrs(2, 1));
  };
  EXPECT_TRUE(gradcheck(fn, {x, w}));
}

// conv2d_add is conv2d plus the addend, and passes the output's gradient to the addend.
TEST_F(Conv2dTest, ConvAddIsTheConvPlusTheAddendAndGradchecks) {
  for (const ConvCase& c : forward_cases()) {
    SCOPED_TRACE(::testing::Message() << "x " << c.x << " w " << c.w);
    Tensor x = randn(c.x, DType::kFloat64).set_requires_grad();
    Tensor w = randn(c.w, DType::kFloat64).set_requires_grad();
    Tensor addend =
        randn(conv2d_output_shape(c.x, c.w, c.attrs), DType::kFloat64).set_requires_grad();
    Conv2dAttrs attrs = c.attrs;
    EXPECT_TRUE(all_close(conv2d_add(x, w, addend, attrs),
                          conv2d_by_im2col(x, w, Tensor(), attrs) + addend, 1e-12, 1e-12));
    EXPECT_TRUE(gradcheck(
        [attrs](const std::vector<Tensor>& in) { return conv2d_add(in[0], in[1], in[2], attrs); },
        {x, w, addend}));
  }
  EXPECT_TRUE(throws_error(
      [] { conv2d_add(randn({1, 2, 5, 5}), randn({3, 2, 3, 3}), randn({1, 3, 5, 5})); },
      {"conv2d_add", "(1, 3, 5, 5)", "(1, 3, 3, 3)"}));
}

TEST_F(Conv2dTest, Float32BackwardAgreesWithFloat64) {
  Conv2dAttrs attrs = make_attrs(2, 1, 1, 2);
  Tensor x = randn({2, 4, 7, 7}, DType::kFloat64), w = randn({6, 2, 3, 3}, DType::kFloat64);
  Tensor dy = randn({2, 6, 4, 4}, DType::kFloat64);
  Tensor dx64 = call<Conv2dBwdData>(dy, w, x.shape(), attrs);
  Tensor dw64 = call<Conv2dBwdWeight>(dy, x, w.shape(), attrs);
  Tensor dy32 = dy.to(DType::kFloat32);
  Tensor dx32 = call<Conv2dBwdData>(dy32, w.to(DType::kFloat32), x.shape(), attrs);
  Tensor dw32 = call<Conv2dBwdWeight>(dy32, x.to(DType::kFloat32), w.shape(), attrs);
  EXPECT_EQ(dx32.dtype(), DType::kFloat32);
  EXPECT_TRUE(all_close(dx32, dx64, 1e-5, 1e-5));
  EXPECT_TRUE(all_close(dw32, dw64, 1e-5, 1e-5));
}

// ---------------------------------------------------------------------------------------------
// Errors.

TEST_F(Conv2dTest, ErrorsNameTheOpAndShapes) {
  Tensor x = zeros({1, 3, 5, 5});
  Tensor w = zeros({4, 3, 3, 3});
  EXPECT_TRUE(throws_error([&] { conv2d(zeros({1, 3, 5}), w); }, {"conv2d", "(1, 3, 5)"}));
  EXPECT_TRUE(throws_error([&] { conv2d(x, zeros({4, 3, 3})); }, {"conv2d", "(4, 3, 3)"}));
  EXPECT_TRUE(throws_error([&] { conv2d(x, zeros({4, 2, 3, 3})); },
                           {"conv2d", "(4, 2, 3, 3)", "(1, 3, 5, 5)"}));
  Conv2dAttrs two_groups = make_attrs(1, 0, 1, 2);
  EXPECT_TRUE(throws_error([&] { conv2d(x, zeros({4, 1, 3, 3}), Tensor(), two_groups); },
                           {"conv2d", "groups", "(1, 3, 5, 5)", "(4, 1, 3, 3)"}));
  EXPECT_TRUE(throws_error([&] { conv2d(zeros({1, 4, 5, 5}), zeros({3, 2, 3, 3}), Tensor(),
                                        two_groups); },
                           {"conv2d", "groups", "(1, 4, 5, 5)", "(3, 2, 3, 3)"}));
  EXPECT_TRUE(throws_error([&] { conv2d(zeros({1, 3, 2, 2}), w); },
                           {"conv2d", "3-wide kernel", "(1, 3, 2, 2)"}));
  EXPECT_TRUE(throws_error([&] { conv2d(x, w, Tensor(), make_attrs(1, 0, 3)); },
                           {"conv2d", "dilation 3", "(1, 3, 5, 5)"}));
  EXPECT_TRUE(throws_error([&] { conv2d(x, w, zeros({3})); }, {"conv2d", "bias", "(4)", "(3)"}));
  EXPECT_TRUE(throws_error([&] { conv2d(x, w, zeros({4, 1})); }, {"conv2d", "bias", "(4, 1)"}));
  EXPECT_TRUE(throws_error([&] { conv2d(x, zeros({4, 3, 3, 3}, DType::kFloat64)); },
                           {"conv2d", "float32", "float64"}));
  EXPECT_TRUE(throws_error([&] { conv2d(x, w, zeros({4}, DType::kFloat64)); },
                           {"conv2d", "bias", "float64", "float32"}));
  EXPECT_TRUE(throws_error([&] { conv2d(zeros({1, 3, 5, 5}, DType::kInt64),
                                        zeros({4, 3, 3, 3}, DType::kInt64)); },
                           {"conv2d", "int64"}));
  EXPECT_TRUE(throws_error([&] { conv2d(x, w, Tensor(), make_attrs(0, 0)); },
                           {"conv2d", "stride", "(1, 3, 5, 5)"}));
}

TEST_F(Conv2dTest, BackwardKernelsCheckTheirArguments) {
  Conv2dAttrs attrs = make_attrs(2, 1);
  Tensor w = zeros({4, 3, 3, 3}), x = zeros({1, 3, 5, 5});  // output (1, 4, 3, 3)
  EXPECT_TRUE(throws_error([&] { call<Conv2dBwdData>(zeros({1, 4, 2, 2}), w, x.shape(), attrs); },
                           {"conv2d backward (data)", "(1, 4, 3, 3)", "(1, 4, 2, 2)"}));
  EXPECT_TRUE(throws_error([&] { call<Conv2dBwdWeight>(zeros({1, 5, 3, 3}), x, w.shape(), attrs); },
                           {"conv2d backward (weight)", "(1, 4, 3, 3)", "(1, 5, 3, 3)"}));
  EXPECT_TRUE(throws_error(
      [&] { call<Conv2dBwdData>(zeros({1, 4, 3, 3}, DType::kFloat64), w, x.shape(), attrs); },
      {"conv2d backward (data)", "float64", "float32"}));
}

}  // namespace
}  // namespace bitgrad
