// matches_reference is the oracle of every fast kernel, so it must fail when the fast run's
// output or gradient differs from the reference run's, or when a slot's fast kernel did not run.
// The computations here tell the two runs apart by their order: the fast run comes first.
#include "tests/testing/parity.h"

#include "core/dispatch.h"
#include "gmock/gmock.h"
#include "ops/elementwise.h"

namespace bitgrad::testing {
namespace {

// relu, plus `fast_only(x)` on the first call (the fast run).
Computation relu_plus_on_fast_run(std::function<Tensor(const Tensor&)> fast_only) {
  auto calls = std::make_shared<int>(0);
  return [calls, fast_only](const std::vector<Tensor>& in) {
    const Tensor y = relu(in[0]);
    return (*calls)++ == 0 ? y + fast_only(in[0]) : y;
  };
}

TEST(ParityTest, PassesTheSameComputation) {
  EXPECT_TRUE(matches_reference([](const std::vector<Tensor>& in) { return relu(in[0]); },
                                {random_input({2, 5, 7, 3})}));
}

TEST(ParityTest, FailsAnOutputOffBy1e3) {
  const ::testing::AssertionResult result = matches_reference(
      relu_plus_on_fast_run([](const Tensor& x) { return x.detach() * 1e-3; }),
      {random_input({2, 5, 7, 3})});
  EXPECT_FALSE(result);
  EXPECT_THAT(result.message(), ::testing::HasSubstr("output"));
}

TEST(ParityTest, FailsAGradientOffBy1e3WithTheSameOutput) {
  // x - detach(x) is 0 with gradient 1: the fast run's output is right, its gradient not.
  const ::testing::AssertionResult result = matches_reference(
      relu_plus_on_fast_run([](const Tensor& x) { return (x - x.detach()) * 1e-3; }),
      {random_input({2, 5, 7, 3})});
  EXPECT_FALSE(result);
  EXPECT_THAT(result.message(), ::testing::HasSubstr("gradient of input 0"));
}

TEST(ParityTest, FailsWhenOnlyReferenceKernelsRan) {
  // As if no CPU kernel were linked in: the reference kernels compared with themselves.
  BackendOverride reference(Backend::kRef);
  const ::testing::AssertionResult result = matches_reference(
      [](const std::vector<Tensor>& in) { return relu(in[0]); }, {random_input({2, 5, 7, 3})});
  EXPECT_FALSE(result);
  EXPECT_THAT(result.message(), ::testing::HasSubstr("only reference kernels"));
  EXPECT_THAT(result.message(), ::testing::HasSubstr("alwayslink = True"));
}

TEST(ParityTest, FailsWhenASlotFellBackUnlessAllowed) {
  // The fast run's affine runs the reference kernel, as a CPU kernel declining its inputs would;
  // it adds 0 with no gradient, so only the fallback tells the runs apart.
  const Computation one_fallback = relu_plus_on_fast_run([](const Tensor& x) {
    BackendOverride reference(Backend::kRef);
    return x.detach() * 0.0;
  });
  const ::testing::AssertionResult result =
      matches_reference(one_fallback, {random_input({2, 5, 7, 3})});
  EXPECT_FALSE(result);
  EXPECT_THAT(result.message(), ::testing::HasSubstr("sent AffineFwd to the reference kernels"));
  EXPECT_TRUE(matches_reference(one_fallback, {random_input({2, 5, 7, 3})},
                                allowing_reference_kernels({"AffineFwd"})));
}

}  // namespace
}  // namespace bitgrad::testing
