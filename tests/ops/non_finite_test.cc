// first_non_finite (ops/non_finite.h) with the reference kernel, the specification: which values
// count as non-finite, which tensor is the first, and the errors.
#include "ops/non_finite.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::throws_error;

// A float32 or float64 tensor of `n` ones with `value` at `at` (none when at < 0).
Tensor ones_with(int64_t n, double value, int64_t at, DType dtype = DType::kFloat32) {
  std::vector<double> values(n, 1.0);
  if (at >= 0) values[at] = value;
  return from_vector(values, {n}).to(dtype);
}

TEST(FirstNonFiniteTest, NaNAndBothInfinitiesCountAndNothingElse) {
  BackendOverride reference(Backend::kRef);
  constexpr double kInf = std::numeric_limits<double>::infinity();
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (double bad : {std::nan(""), kInf, -kInf}) {
      EXPECT_EQ(first_non_finite({ones_with(7, bad, 6, dtype)}), 0) << bad;
      EXPECT_EQ(first_non_finite({ones_with(7, bad, 0, dtype)}), 0) << bad;
    }
    const double largest = dtype == DType::kFloat32 ? std::numeric_limits<float>::max()
                                                    : std::numeric_limits<double>::max();
    const double tiny = dtype == DType::kFloat32 ? std::numeric_limits<float>::denorm_min()
                                                 : std::numeric_limits<double>::denorm_min();
    for (double fine : {largest, -largest, tiny, -0.0, 0.0}) {
      EXPECT_EQ(first_non_finite({ones_with(5, fine, 2, dtype)}), -1) << fine;
    }
  }
}

TEST(FirstNonFiniteTest, TheFirstTensorThatHoldsOneIsTheAnswer) {
  for (Backend backend : {Backend::kRef, Backend::kCpu}) {
    BackendOverride force(backend);
    const Tensor fine = ones_with(3, 0, -1), nan = ones_with(4, std::nan(""), 1);
    const Tensor inf = ones_with(2, INFINITY, 1, DType::kFloat64);
    EXPECT_EQ(first_non_finite({fine, nan, fine, inf}), 1);
    EXPECT_EQ(first_non_finite({fine, fine, inf, nan}), 2);
    EXPECT_EQ(first_non_finite({fine, zeros({0}), fine}), -1);
    EXPECT_EQ(first_non_finite({}), -1);
  }
}

TEST(FirstNonFiniteTest, TakesDefinedFloatingPointTensors) {
  EXPECT_TRUE(throws_error([] { first_non_finite({zeros({2}), Tensor()}); },
                           {"first_non_finite", "tensor 1", "undefined"}));
  EXPECT_TRUE(throws_error([] { first_non_finite({zeros({2}, DType::kInt64)}); },
                           {"first_non_finite", "tensor 0", "int64", "float32 or float64"}));
}

}  // namespace
}  // namespace bitgrad
