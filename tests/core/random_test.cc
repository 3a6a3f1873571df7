#include "core/random.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

TEST(RandomTest, SameSeedSameNumbers) {
  Generator a(42), b(42), c(43);
  Tensor x = randn({100}, DType::kFloat64, Device::cpu(), a);
  Tensor y = randn({100}, DType::kFloat64, Device::cpu(), b);
  Tensor z = randn({100}, DType::kFloat64, Device::cpu(), c);
  EXPECT_EQ(x.to_vector<double>(), y.to_vector<double>());
  EXPECT_NE(x.to_vector<double>(), z.to_vector<double>());
}

TEST(RandomTest, StateRestoresTheStreamExactly) {
  Generator g(7);
  g.normal();
  std::string saved = g.state();
  std::vector<double> expected = {g.normal(), g.uniform(), static_cast<double>(g.randint(10))};
  Generator restored;
  restored.set_state(saved);
  EXPECT_EQ(expected, std::vector<double>({restored.normal(), restored.uniform(),
                                           static_cast<double>(restored.randint(10))}));
  EXPECT_TRUE(testing::throws_error([&] { restored.set_state("not a state"); }, {"malformed"}));
}

TEST(RandomTest, NormalAndUniformHaveTheRightMoments) {
  Generator g(1);
  std::vector<double> n = randn({20000}, DType::kFloat64, Device::cpu(), g).to_vector<double>();
  double mean = 0, var = 0;
  for (double v : n) mean += v / n.size();
  for (double v : n) var += (v - mean) * (v - mean) / n.size();
  EXPECT_NEAR(mean, 0.0, 0.03);
  EXPECT_NEAR(var, 1.0, 0.04);
  std::vector<double> u =
      rand({20000}, -1, 3, DType::kFloat64, Device::cpu(), g).to_vector<double>();
  EXPECT_GE(*std::min_element(u.begin(), u.end()), -1.0);
  EXPECT_LT(*std::max_element(u.begin(), u.end()), 3.0);
  double u_mean = 0;
  for (double v : u) u_mean += v / u.size();
  EXPECT_NEAR(u_mean, 1.0, 0.05);
}

TEST(RandomTest, RandpermIsAPermutation) {
  Generator g(3);
  std::vector<int64_t> p = randperm(50, g).to_vector<int64_t>();
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(sorted[i], i);
  std::vector<int64_t> identity(50);
  for (int64_t i = 0; i < 50; ++i) identity[i] = i;
  EXPECT_NE(p, identity);
}

// Fisher-Yates draws each of the n! orders alike. Drawing the swap partner from below i only
// (Sattolo's algorithm) still gives permutations, but only the cyclic ones: never (0, 1, 2).
TEST(RandomTest, RandpermDrawsEveryOrderAboutEquallyOften) {
  Generator g(5);
  std::map<std::vector<int64_t>, int> counts;
  for (int i = 0; i < 6000; ++i) ++counts[randperm(3, g).to_vector<int64_t>()];
  EXPECT_EQ(counts.size(), 6u);
  for (const auto& [order, count] : counts) EXPECT_NEAR(count, 1000, 150);  // sd about 29
}

TEST(RandomTest, RandintRefusesAnEmptyRange) {
  Generator g(1);
  EXPECT_TRUE(testing::throws_error([&] { g.randint(0); }, {"randint", "positive, got 0"}));
  EXPECT_TRUE(testing::throws_error([&] { g.randint(-3); }, {"randint", "positive, got -3"}));
}

TEST(RandomTest, ManualSeedResetsTheDefaultGenerator) {
  manual_seed(11);
  std::vector<float> first = randn({5}).to_vector<float>();
  manual_seed(11);
  EXPECT_EQ(first, randn({5}).to_vector<float>());
}

}  // namespace
}  // namespace bitgrad
