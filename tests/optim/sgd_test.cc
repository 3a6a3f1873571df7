#include "optim/sgd.h"

#include <cmath>
#include <map>

#include "core/random.h"
#include "gtest/gtest.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::throws_error;

// torch.optim.SGD trajectories from tools/golden/gen_sgd_expected.py: the parameters after
// each of three steps with lr 0, 0.1, 0.05 and the gradients below.
const std::vector<double> kInitial = {0.5, -1.25, 2.0};
const std::vector<std::vector<double>> kGrads = {
    {0.1, -0.2, 0.3}, {-0.4, 0.5, 0.25}, {0.05, 0.0, -0.6}};
const std::vector<double> kLrs = {0.0, 0.1, 0.05};
const std::map<std::string, std::vector<std::vector<double>>> kTorchTrajectories = {
  {"plain_momentum", {{0.5, -1.25, 2},
                      {0.53100000000000003, -1.282, 1.948},
                      {0.54244999999999999, -1.2964, 1.9545999999999999}}},
  {"weight_decay", {{0.5, -1.25, 2},
                    {0.53005000000000002, -1.279625, 1.9441999999999999},
                    {0.54080747500000004, -1.2923164375, 1.9481179}}},
  {"nesterov", {{0.5, -1.25, 2},
                {0.56789999999999996, -1.3288, 1.9281999999999999},
                {0.57570499999999991, -1.3417600000000001, 1.96414}}},
  {"dampening", {{0.5, -1.25, 2},
                 {0.52300000000000002, -1.2749999999999999, 1.9675},
                 {0.52700000000000002, -1.28125, 1.980375}}},
  {"no_momentum", {{0.5, -1.25, 2},
                   {0.53500000000000003, -1.2875000000000001, 1.9550000000000001},
                   {0.52982499999999999, -1.2810625, 1.975225}}},
};
const std::map<std::string, SgdOptions> kConfigs = {
    {"plain_momentum", {1.0, 0.9, 0.0, 0.0, false}},
    {"weight_decay", {1.0, 0.9, 0.0, 0.01, false}},
    {"nesterov", {1.0, 0.9, 0.0, 0.0, true}},
    {"dampening", {1.0, 0.5, 0.3, 0.0, false}},
    {"no_momentum", {1.0, 0.0, 0.0, 0.1, false}},
};

TEST(SgdTest, MatchesTorchOptimSgd) {
  for (DType dtype : {DType::kFloat64, DType::kFloat32}) {
    for (const auto& [name, options] : kConfigs) {
      Tensor p = from_vector<double>(kInitial, {3}).to(dtype).set_requires_grad();
      Sgd sgd({{"p", p}}, options);
      for (size_t step = 0; step < kLrs.size(); ++step) {
        sgd.set_lr(kLrs[step]);
        p.set_grad(from_vector<double>(kGrads[step], {3}).to(dtype));
        sgd.step();
        double tolerance = dtype == DType::kFloat64 ? 1e-14 : 1e-6;
        EXPECT_TRUE(all_close(p, from_vector<double>(kTorchTrajectories.at(name)[step], {3}), 0,
                              tolerance))
            << name << " step " << step << " " << dtype_name(dtype);
      }
    }
  }
}

TEST(SgdTest, SkipsParametersWithoutGradientAndZeroGradDropsThem) {
  Tensor a = ones({2}).set_requires_grad();
  Tensor b = ones({2}).set_requires_grad();
  Sgd sgd({{"a", a}, {"b", b}}, {0.5, 0.0});
  a.set_grad(ones({2}));
  sgd.step();
  EXPECT_TRUE(all_close(a, full({2}, 0.5)));
  EXPECT_TRUE(all_close(b, ones({2})));
  sgd.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_EQ(sgd.steps_taken(), 1);
}

// step() names the first parameter, in the order the optimizer was given them, that the update
// left holding a NaN or an infinity, though the parameters that get their momentum buffer now
// ("a" below, in its first update) are updated in a call of their own after the others.
TEST(SgdTest, StepReportsTheFirstParameterItLeftNonFinite) {
  Tensor a = ones({2}).set_requires_grad();
  Tensor b = ones({3}).set_requires_grad();
  Tensor c = ones({2}).set_requires_grad();
  Sgd sgd({{"a", a}, {"b", b}, {"c", c}}, {1e30, 0.9});
  b.set_grad(full({3}, 1e-30));
  c.set_grad(full({2}, 1e-30));
  EXPECT_FALSE(sgd.step().has_value());  // the weights move by 1: finite
  sgd.zero_grad();
  a.set_grad(from_vector<float>({0, 1e10}, {2}));  // 1e40 overflows float32
  b.set_grad(full({3}, 1e-30));
  c.set_grad(from_vector<float>({NAN, 0}, {2}));
  const std::optional<NamedTensor> first = sgd.step();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->first, "a");
  EXPECT_TRUE(first->second.is_same(a));
  EXPECT_TRUE(std::isinf(a.to_vector<float>()[1]));
  sgd.zero_grad();
  c.set_grad(full({2}, 1e-30));  // a is left alone; c is NaN already
  const std::optional<NamedTensor> still = sgd.step();
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->first, "c");
}

// The converse order: the parameter that already has its buffer ("a") comes first and the one
// that gets its buffer now ("c") last; both go non-finite, and "a" is named.
TEST(SgdTest, StepNamesTheEarlierParameterWhenBothCallsLeaveOneNonFinite) {
  Tensor a = ones({2}).set_requires_grad();
  Tensor c = ones({2}).set_requires_grad();
  Sgd sgd({{"a", a}, {"c", c}}, {0.1, 0.9});
  a.set_grad(ones({2}));
  EXPECT_FALSE(sgd.step().has_value());
  a.set_grad(from_vector<float>({NAN, 0}, {2}));
  c.set_grad(from_vector<float>({0, NAN}, {2}));
  const std::optional<NamedTensor> first = sgd.step();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->first, "a");
}

TEST(SgdTest, StateRoundTripResumesExactly) {
  auto run = [](Sgd& sgd, Tensor& p, int steps, Generator& g) {
    for (int i = 0; i < steps; ++i) {
      p.set_grad(randn({4}, DType::kFloat32, Device::cpu(), g));
      sgd.step();
    }
  };
  Generator g1(5), g2(5);
  Tensor p1 = ones({4}).set_requires_grad();
  Sgd straight({{"w", p1}}, {0.1, 0.9});
  run(straight, p1, 6, g1);

  Tensor p2 = ones({4}).set_requires_grad();
  Sgd first({{"w", p2}}, {0.1, 0.9});
  run(first, p2, 3, g2);
  Tensor p3 = p2.clone().set_requires_grad();
  Sgd resumed({{"w", p3}}, {0.1, 0.9});
  resumed.load_state(first.state(), first.steps_taken());
  run(resumed, p3, 3, g2);
  EXPECT_EQ(p3.to_vector<float>(), p1.to_vector<float>());
  EXPECT_EQ(resumed.steps_taken(), 6);
}

// Loading a state replaces the optimizer's: a parameter the state has no buffer for starts
// afresh (its next update is a first step, buf = g), and the buffers are copies, converted to the
// parameter's dtype, so that the updates leave the given state alone.
TEST(SgdTest, LoadStateReplacesEveryBufferWithACopy) {
  Tensor p = zeros({1}).set_requires_grad();
  Sgd sgd({{"p", p}}, {1.0, 0.9});
  p.set_grad(ones({1}));
  sgd.step();  // buf = 1, p = -1
  sgd.load_state({}, 0);
  EXPECT_TRUE(sgd.state().empty());
  sgd.step();  // buf = 1 again, not 0.9 * 1 + 1
  EXPECT_EQ(p.to_vector<float>(), std::vector<float>{-2});

  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    const Tensor saved = full({1}, 2.0, dtype);
    p.copy_(zeros({1}));
    sgd.load_state({{"p", saved}}, 1);
    sgd.step();  // buf = 0.9 * 2 + 1 in float32
    EXPECT_TRUE(all_close(p, full({1}, -2.8), 0, 1e-6)) << dtype_name(dtype);
    EXPECT_EQ(sgd.state().at(0).second.dtype(), DType::kFloat32);
    EXPECT_EQ(saved.to_vector<double>(), std::vector<double>{2.0}) << dtype_name(dtype);
  }
}

TEST(SgdTest, BadArgumentsAreReported) {
  Tensor p = ones({2}).set_requires_grad();
  EXPECT_TRUE(throws_error([&] { Sgd({{"p", p}, {"p", p}}, {}); }, {"'p'", "twice"}));
  EXPECT_TRUE(throws_error([&] { Sgd({{"p", p}, {"alias", p}}, {}); },
                           {"'p' and 'alias' are one tensor"}));
  EXPECT_TRUE(throws_error([&] { Sgd({{"p", p}}, {-1.0}); }, {"lr"}));
  EXPECT_TRUE(throws_error([&] { Sgd({{"p", p}}, {0.1, -0.9}); }, {"momentum", ">= 0"}));
  EXPECT_TRUE(throws_error([&] { Sgd({{"p", p}}, {0.1, 0.9, 0, -1e-4}); }, {"weight_decay"}));
  EXPECT_TRUE(throws_error([&] { Sgd({{"p", p}}, {0.1, 0.0, 0, 0, true}); },
                           {"nesterov needs momentum > 0"}));
  EXPECT_TRUE(throws_error([&] { Sgd({{"p", p}}, {0.1, 0.9, 0.1, 0, true}); },
                           {"nesterov", "dampening 0"}));
  Sgd sgd({{"p", p}}, {});
  EXPECT_TRUE(throws_error([&] { sgd.load_state({{"q", zeros({2})}}, 0); }, {"'q'"}));
  EXPECT_TRUE(throws_error([&] { sgd.load_state({{"p", zeros({3})}}, 0); }, {"'p'", "(3)", "(2)"}));
}

}  // namespace
}  // namespace bitgrad
