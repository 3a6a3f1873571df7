// gradcheck is the oracle of every op's backward, so it must fail on a wrong one: these hand it
// functions whose backward misses part of the derivative (through detach()), which a gradcheck
// that compared nothing, or compared a gradient with itself, would pass.
#include "tests/testing/gradcheck.h"

#include "core/random.h"
#include "gmock/gmock.h"
#include "ops/elementwise.h"

namespace bitgrad::testing {
namespace {

Tensor random_leaf() { return randn({3, 4}, DType::kFloat64).set_requires_grad(); }

TEST(GradcheckTest, PassesARightBackward) {
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0]; },
                        {random_leaf()}));
}

TEST(GradcheckTest, FailsABackwardMissingHalfTheDerivative) {
  // x * detach(x): the value is x^2, the backward gives x where the derivative is 2x.
  const ::testing::AssertionResult result = gradcheck(
      [](const std::vector<Tensor>& in) { return in[0] * in[0].detach(); }, {random_leaf()});
  EXPECT_FALSE(result);
  EXPECT_THAT(result.message(), ::testing::HasSubstr("12 gradient mismatches"));
}

TEST(GradcheckTest, FailsABackwardOnePercentOff) {
  // x + 0.01 detach(x): backward 1, derivative 1.01, beyond the default rtol of 1e-3.
  EXPECT_FALSE(gradcheck(
      [](const std::vector<Tensor>& in) { return in[0] + in[0].detach() * 0.01; },
      {random_leaf()}));
}

TEST(GradcheckTest, FailsAWrongGradientOfASecondInput) {
  const Tensor a = random_leaf(), b = random_leaf();
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[1]; }, {a, b}));
  EXPECT_FALSE(gradcheck(
      [](const std::vector<Tensor>& in) { return in[0] * in[1] + in[1].detach() * 0.01; },
      {a, b}));
}

TEST(GradcheckTest, FailsAlongRandomDirectionsOnLargeInputs) {
  GradcheckOptions options;
  options.max_elementwise = 4;  // 12 elements: checked along random directions
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0]; },
                        {random_leaf()}, options));
  EXPECT_FALSE(gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0].detach(); },
                         {random_leaf()}, options));
}

TEST(GradcheckTest, FailsAnOutputWithoutGradient) {
  const ::testing::AssertionResult result = gradcheck(
      [](const std::vector<Tensor>& in) { return in[0].detach() * 2.0; }, {random_leaf()});
  EXPECT_FALSE(result);
  EXPECT_THAT(result.message(), ::testing::HasSubstr("does not require grad"));
}

TEST(GradcheckTest, RefusesFloat32Inputs) {
  const ::testing::AssertionResult result =
      gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0]; },
                {randn({3, 4}).set_requires_grad()});
  EXPECT_FALSE(result);
  EXPECT_THAT(result.message(), ::testing::HasSubstr("float64"));
}

}  // namespace
}  // namespace bitgrad::testing
