// The oneDNN sum and matmul kernels against the reference kernels.
#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/conv.h"
#include "ops/linear.h"
#include "ops/reduce.h"
#include "tests/testing/parity.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::matches_reference;
using testing::random_input;
using testing::throws_error;

TEST(SumOnednnTest, SumsOfBlockedTensorsMatchReference) {
  std::vector<std::vector<int64_t>> dim_sets = {{2, 3}, {0, 2, 3}, {1, 2, 3}, {0, 1, 2, 3},
                                                {1}, {0}, {3}};
  for (int64_t channels : {16, 5}) {
    for (const auto& dims : dim_sets) {
      for (bool keepdim : {true, false}) {
        SCOPED_TRACE(::testing::Message() << channels << " channels, " << dims.size()
                                          << " dims, keepdim " << keepdim);
        // The backward's expand over (N) and (H, W) is two blocks of dims: the reference's.
        const bool two_blocks = dims == std::vector<int64_t>{0, 2, 3};
        EXPECT_TRUE(matches_reference(
            [&](const std::vector<Tensor>& in) { return sum(conv2d(in[0], in[1]), dims, keepdim); },
            {random_input({3, 8, 5, 7}), random_input({channels, 8, 1, 1})},
            testing::allowing_reference_kernels(two_blocks ? std::vector<std::string>{"ExpandFwd"}
                                                           : std::vector<std::string>{})));
      }
    }
  }
}

TEST(SumOnednnTest, GlobalAveragePoolStaysBlocked) {
  Tensor x = conv2d(randn({2, 8, 4, 4}), randn({16, 8, 1, 1}));
  Tensor pooled = mean(x, {2, 3}, /*keepdim=*/true);
  EXPECT_FALSE(pooled.is_plain());
  EXPECT_EQ(pooled.shape(), (Shape{2, 16, 1, 1}));
  EXPECT_TRUE(matches_reference(
      [](const std::vector<Tensor>& in) { return mean(conv2d(in[0], in[1]), {2, 3}, true); },
      {random_input({2, 8, 4, 4}), random_input({16, 8, 1, 1})}));
}

TEST(SumOnednnTest, SumsOfPlainTensorsMatchReference) {
  for (const auto& dims : std::vector<std::vector<int64_t>>{{2}, {1, 2}, {0}, {0, 2}, {1}, {}}) {
    SCOPED_TRACE(dims.size());
    // {0, 2} is two blocks of dims, which the CPU sum and expand hand to the reference kernels.
    const bool two_blocks = dims == std::vector<int64_t>{0, 2};
    EXPECT_TRUE(matches_reference(
        [&](const std::vector<Tensor>& in) { return sum(in[0], dims, false); },
        {random_input({4, 6, 9})},
        testing::allowing_reference_kernels(two_blocks ? std::vector<std::string>{"SumFwd",
                                                                                  "ExpandFwd"}
                                                       : std::vector<std::string>{})));
  }
  // Reduced dims of extent 1 around kept ones still make an innermost reduction.
  EXPECT_TRUE(matches_reference(
      [](const std::vector<Tensor>& in) { return sum(in[0], {1, 3}, true); },
      {random_input({4, 1, 6, 9})}));
}

// Expand, the backward of sum and mean (BiT's global average pool): one block of broadcast dims
// runs the CPU loop, other patterns the reference kernel; both must match it.
TEST(ExpandCpuTest, MatchesReference) {
  struct Case {
    Shape x, shape;
    std::vector<std::string> fallbacks = {};  // the slots that run the reference kernel
  };
  for (const Case& c : std::vector<Case>{
           {{3, 5, 1, 1}, {3, 5, 4, 4}},                                // mean over H, W
           {{1, 7, 3}, {5, 7, 3}},                                      // leading block
           {{4, 1}, {4, 9}},                                            // innermost
           {{2, 1, 3, 1}, {2, 5, 3, 7}, {"ExpandFwd", "SumFwd"}},       // two blocks
           {{6}, {2, 6}, {"ExpandFwd"}},                                // lower rank
           {{2, 3}, {2, 3}}}) {                                         // nothing to expand
    SCOPED_TRACE(c.x.str() + " -> " + c.shape.str());
    Shape shape = c.shape;
    EXPECT_TRUE(matches_reference(
        [&](const std::vector<Tensor>& in) { return expand(in[0], shape); },
        {random_input(c.x)}, testing::allowing_reference_kernels(c.fallbacks)));
  }
}

TEST(SumOnednnTest, AccumulatesInDouble) {
  // 100000 copies of 0.1f drift by more than 1 when accumulated in float.
  EXPECT_NEAR(sum(full({100000}, 0.1)).item<double>(), 1e5 * static_cast<double>(0.1f), 1e-2);
  EXPECT_NEAR(sum(full({3, 50000, 2}, 0.1), {1}).to_vector<double>()[5],
              5e4 * static_cast<double>(0.1f), 1e-2);
}

TEST(MatmulOnednnTest, AllTransposesMatchReference) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      SCOPED_TRACE(::testing::Message() << ta << tb);
      Tensor a = ta ? randn({7, 5}) : randn({5, 7});
      Tensor b = tb ? randn({3, 7}) : randn({7, 3});
      Tensor out = call<MatmulFwd>(a, b, ta, tb);
      BackendOverride reference(Backend::kRef);
      EXPECT_TRUE(testing::close_to(out, call<MatmulFwd>(a, b, ta, tb)));
    }
  }
}

TEST(MatmulOnednnTest, LinearForwardAndBackwardMatchReference) {
  EXPECT_TRUE(matches_reference(
      [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
      {random_input({6, 33}), random_input({10, 33}), random_input({10})}));
  EXPECT_TRUE(matches_reference(
      [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
      {random_input({1, 17}), random_input({17, 1})}));
}

// An empty inner dimension sums nothing: every output is 0. The kernel hands it to the
// reference one (oneDNN would run its slow reference matmul, which this test binary forbids).
TEST(MatmulOnednnTest, EmptyInnerDimensionGivesZeros) {
  EXPECT_TRUE(testing::all_close(call<MatmulFwd>(zeros({3, 0}), zeros({0, 4}), false, false),
                                 zeros({3, 4}), 0, 0));
  EXPECT_TRUE(testing::all_close(call<MatmulFwd>(zeros({0, 3}), zeros({4, 0}), true, true),
                                 zeros({3, 4}), 0, 0));
}

TEST(MatmulOnednnTest, ErrorsNameTheOpAndShapes) {
  EXPECT_TRUE(throws_error([] { call<MatmulFwd>(zeros({2, 3}), zeros({4, 5}), false, false); },
                           {"matmul", "(2, 3)", "(4, 5)"}));
  EXPECT_TRUE(throws_error([] { call<MatmulFwd>(zeros({2, 3}), zeros({3}), false, false); },
                           {"matmul", "(2, 3)", "(3)"}));
}

}  // namespace
}  // namespace bitgrad
