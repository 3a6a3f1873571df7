// bf16 autocast of the oneDNN convolutions (ops/cpu/conv/bf16.h). Where the CPU has bf16
// convolutions, the forward and backward-data passes equal the float64 reference on bf16-rounded
// operands, up to the rounding of their result to bf16 and float32 sums, and backward-weights
// is the float32 one; where it has none
// (AVX2, as the AVX2-capped run of this test sees it), a conv under autocast fails saying why.
#include <cmath>
#include <vector>

#include "core/dispatch.h"
#include "core/dtype.h"
#include "gtest/gtest.h"
#include "ops/conv.h"
#include "ops/cpu/common/onednn_layout.h"
#include "ops/elementwise.h"
#include "ops/math_mode.h"
#include "tests/testing/parity.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::random_input;

bool cpu_has_bf16() { return bf16_autocast_problem(DeviceType::kCPU).empty(); }

// v rounded to the nearest bf16 (ties to even), as the kernels' reorders round.
float round_to_bf16(float v) { return static_cast<float>(BFloat16(v)); }

// t's values (any layout), as float64; rounded to bf16 first when asked; their absolute values
// when asked.
Tensor as_double(const Tensor& t, bool bf16, bool absolute = false) {
  if (!t.defined()) return t;
  Tensor plain = t.to_plain();
  std::vector<double> values(plain.numel());
  for (int64_t i = 0; i < plain.numel(); ++i) {
    double v = bf16 ? round_to_bf16(plain.data<float>()[i]) : plain.data<float>()[i];
    values[i] = absolute ? std::fabs(v) : v;
  }
  return from_vector(values, t.shape());
}

// The oracle: `pass` on the reference kernels in float64, on the operands rounded to bf16 (all
// but a bias, which the kernels add in float32), and on their absolute values (the scale of
// float32 rounding in the sums).
template <typename Pass>
std::pair<Tensor, Tensor> reference(const std::vector<Tensor>& operands, const Pass& pass,
                                    const Tensor& bias = Tensor()) {
  BackendOverride reference(Backend::kRef);
  std::vector<Tensor> rounded, magnitudes;
  for (const Tensor& t : operands) {
    rounded.push_back(as_double(t, true));
    magnitudes.push_back(as_double(t, true, true));
  }
  rounded.push_back(as_double(bias, false));
  magnitudes.push_back(as_double(bias, false, true));
  return {pass(rounded), pass(magnitudes)};
}

// |actual - expected| <= 2^-7 * |expected| + 1e-5 * magnitude, element by element: a result
// rounded to bf16 (2^-8 is bf16's unit roundoff, doubled where float32 sums in another order put
// it on the other side of a tie), plus float32 rounding in the sums.
::testing::AssertionResult within_bf16_rounding(const Tensor& actual,
                                                const std::pair<Tensor, Tensor>& oracle) {
  const Tensor got = as_double(actual, false);
  const auto& [expected, magnitude] = oracle;
  if (got.shape() != expected.shape()) {
    return ::testing::AssertionFailure() << "shape " << got.shape() << ", expected "
                                         << expected.shape();
  }
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double e = expected.data<double>()[i], g = got.data<double>()[i];
    const double allowed = std::fabs(e) / 128 + 1e-5 * magnitude.data<double>()[i];
    if (!(std::fabs(g - e) <= allowed)) {
      return ::testing::AssertionFailure() << "element " << i << ": " << g << ", expected " << e
                                           << " within " << allowed;
    }
  }
  return ::testing::AssertionSuccess();
}

struct Bf16Case {
  const char* name;
  Shape x, w;
  Conv2dAttrs attrs;
  bool bias = false;
  bool blocked_x = false;  // x as the convs leave activations (nChw8c / nChw16c), else plain
};

std::vector<Bf16Case> cases() {
  return {
      {"root_7x7_s2", {2, 3, 19, 19}, {16, 3, 7, 7}, {{2, 2}, {3, 3}}},
      {"pointwise", {2, 32, 8, 8}, {64, 32, 1, 1}, {}, false, true},
      {"wide_3x3", {2, 64, 8, 8}, {64, 64, 3, 3}, {{1, 1}, {1, 1}}, false, true},
      {"strided_3x3", {2, 16, 9, 9}, {16, 16, 3, 3}, {{2, 2}, {1, 1}}, false, true},
      {"projection_1x1_s2", {3, 16, 9, 9}, {32, 16, 1, 1}, {{2, 2}, {0, 0}}},
      {"odd_channels_3x3", {2, 5, 9, 7}, {7, 5, 3, 3}, {{1, 1}, {1, 1}}},
      {"bias_odd_output", {3, 8, 6, 5}, {5, 8, 3, 3}, {{1, 1}, {1, 1}}, true},
  };
}

Tensor input(const Bf16Case& c) {
  return c.blocked_x ? testing::blocked_input(c.x) : random_input(c.x, false);
}

TEST(ConvBf16OnednnTest, EveryPassIsTheBf16ConvolutionOfItsOperands) {
  if (!cpu_has_bf16()) GTEST_SKIP() << "covered by FailsSayingWhyWithoutBf16";
  for (const Bf16Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const Tensor x = input(c), w = random_input(c.w, false);
    const Tensor bias = c.bias ? random_input({c.w[0]}, false) : Tensor();
    const Shape y_shape = conv2d_output_shape(c.x, c.w, c.attrs);
    const Tensor dy = random_input(y_shape, false), addend = random_input(y_shape, false);
    const Conv2dAttrs attrs = c.attrs;
    const Tensor y_float32 = conv2d(x, w, bias, attrs);

    Tensor y, y_add, dx, dw;
    {
      ScopedBf16Autocast bf16;
      y = conv2d(x, w, bias, attrs);
      if (!c.bias) y_add = conv2d_add(x, w, addend, attrs);
      dx = call<Conv2dBwdData>(dy, w, c.x, attrs);
      dw = call<Conv2dBwdWeight>(dy, x, c.w, attrs);
    }
    using Operands = std::vector<Tensor>;
    const auto forward = [&](const Operands& in) { return conv2d(in[0], in[1], in[2], attrs); };
    const auto backward_data = [&](const Operands& in) {
      return call<Conv2dBwdData>(in[0], in[1], c.x, attrs);
    };
    EXPECT_TRUE(within_bf16_rounding(y, reference({x, w}, forward, bias)));
    EXPECT_EQ(y.dtype(), DType::kFloat32);
    EXPECT_TRUE(onednn::desc_of(y) == onednn::desc_of(y_float32))
        << "y is not in the layout the float32 conv writes";
    if (!c.bias) {  // y + addend, the addend float32: rounding of the bf16 part only
      EXPECT_TRUE(within_bf16_rounding(y_add - addend, reference({x, w}, forward)));
    }
    EXPECT_TRUE(within_bf16_rounding(dx, reference({dy, w}, backward_data)));
    EXPECT_TRUE(testing::same_bits(dw, call<Conv2dBwdWeight>(dy, x, c.w, attrs)));
  }
}

// The oracle tells bf16 from float32: the float32 kernels' results, which do not round the
// operands, are outside the bounds a bf16 result must keep to.
TEST(ConvBf16OnednnTest, TheOracleRejectsFloat32Results) {
  const Tensor x = testing::blocked_input({2, 64, 8, 8}), w = random_input({64, 64, 3, 3}, false);
  const Conv2dAttrs attrs{{1, 1}, {1, 1}};
  const auto forward = [&](const std::vector<Tensor>& in) {
    return conv2d(in[0], in[1], Tensor(), attrs);
  };
  EXPECT_FALSE(within_bf16_rounding(conv2d(x, w, Tensor(), attrs), reference({x, w}, forward)));
}

TEST(ConvBf16OnednnTest, FailsSayingWhyWithoutBf16) {
  if (cpu_has_bf16()) GTEST_SKIP() << "this CPU has bf16 convolutions";
  const Tensor x = random_input({1, 8, 5, 5}, false), w = random_input({8, 8, 3, 3}, false);
  ScopedBf16Autocast bf16;
  EXPECT_TRUE(testing::throws_error([&] { conv2d(x, w); },
                                    {"conv2d", "bf16 autocast is on", "needs a CPU with AMX"}));
  EXPECT_TRUE(testing::throws_error(
      [&] { call<Conv2dBwdData>(random_input({1, 8, 5, 5}, false), w, x.shape(),
                                Conv2dAttrs{{1, 1}, {1, 1}}); },
      {"conv2d backward data", "AVX2"}));
}

// Float64 tensors are never cast: they run the reference kernels, exactly, under autocast too.
TEST(ConvBf16OnednnTest, Float64IsNeverCast) {
  const Tensor x = random_input({2, 8, 6, 6}, false).to(DType::kFloat64);
  const Tensor w = random_input({8, 8, 3, 3}, false).to(DType::kFloat64);
  const Tensor expected = conv2d(x, w, Tensor(), {{1, 1}, {1, 1}});
  ScopedBf16Autocast bf16;
  EXPECT_TRUE(testing::same_bits(conv2d(x, w, Tensor(), {{1, 1}, {1, 1}}), expected));
}

}  // namespace
}  // namespace bitgrad
