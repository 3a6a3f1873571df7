#include "optim/lr_schedule.h"

#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

// The worked example in docs/bit.md §3.1 (small regime, base 3e-3).
TEST(LrScheduleTest, SmallRegimeMatchesTheOfficialHyperRule) {
  WarmupStaircase schedule = bit_hyperrule_schedule(1000);
  EXPECT_EQ(schedule.lr(0).value(), 0.0);
  EXPECT_DOUBLE_EQ(schedule.lr(50).value(), 0.0015);
  EXPECT_DOUBLE_EQ(schedule.lr(99).value(), 0.003 * 99 / 100);
  EXPECT_DOUBLE_EQ(schedule.lr(100).value(), 0.003);
  EXPECT_DOUBLE_EQ(schedule.lr(200).value(), 0.003);  // the boundary keeps the higher rate
  EXPECT_DOUBLE_EQ(schedule.lr(201).value(), 3e-4);
  EXPECT_DOUBLE_EQ(schedule.lr(300).value(), 3e-4);
  EXPECT_DOUBLE_EQ(schedule.lr(301).value(), 3e-5);
  EXPECT_DOUBLE_EQ(schedule.lr(401).value(), 3e-6);
  EXPECT_DOUBLE_EQ(schedule.lr(499).value(), 3e-6);
  EXPECT_FALSE(schedule.lr(500).has_value());
  EXPECT_EQ(schedule.total_steps(), 500);
}

TEST(LrScheduleTest, RegimesAndMixupFollowTheDatasetSize) {
  EXPECT_EQ(bit_hyperrule_schedule(19999).total_steps(), 500);
  EXPECT_EQ(bit_hyperrule_schedule(20000).total_steps(), 10000);
  EXPECT_EQ(bit_hyperrule_schedule(499999).total_steps(), 10000);
  EXPECT_EQ(bit_hyperrule_schedule(500000).total_steps(), 20000);
  EXPECT_DOUBLE_EQ(bit_hyperrule_schedule(50000).lr(3001).value(), 3e-4);
  EXPECT_DOUBLE_EQ(bit_hyperrule_schedule(600000).lr(6000).value(), 3e-3);
  EXPECT_DOUBLE_EQ(bit_hyperrule_schedule(600000).lr(250).value(), 1.5e-3);
  EXPECT_EQ(bit_hyperrule_mixup_alpha(19999), 0.0);
  // --steps stretches the regime: 50 steps of the small one warm up for 10, decay after 20/30/40.
  WarmupStaircase short_run = bit_hyperrule_schedule(100, 0.1, 50);
  EXPECT_EQ(short_run.total_steps(), 50);
  EXPECT_DOUBLE_EQ(short_run.lr(5).value(), 0.05);
  EXPECT_DOUBLE_EQ(short_run.lr(20).value(), 0.1);
  EXPECT_DOUBLE_EQ(short_run.lr(21).value(), 0.01);
  EXPECT_DOUBLE_EQ(short_run.lr(41).value(), 1e-4);
  EXPECT_FALSE(short_run.lr(50).has_value());
  EXPECT_DOUBLE_EQ(bit_hyperrule_schedule(50000, 0.003, 1000).lr(301).value(), 3e-4);
  EXPECT_EQ(bit_hyperrule_mixup_alpha(20000), 0.1);
}

// Every regime's warmup end and decay steps, from the header's table: the rate reaches base_lr
// at the warmup's end, and each decay step is the last at the higher rate.
TEST(LrScheduleTest, EveryRegimeWarmsUpAndDecaysAtItsOwnSteps) {
  struct Regime {
    int64_t num_examples, warmup;
    std::vector<int64_t> decays;
    int64_t total;
  };
  for (const Regime& r : {Regime{1000, 100, {200, 300, 400}, 500},
                          Regime{20000, 500, {3000, 6000, 9000}, 10000},
                          Regime{500000, 500, {6000, 12000, 18000}, 20000}}) {
    const WarmupStaircase schedule = bit_hyperrule_schedule(r.num_examples, 1.0);
    EXPECT_EQ(schedule.total_steps(), r.total) << r.num_examples;
    EXPECT_DOUBLE_EQ(schedule.lr(r.warmup - 1).value(), (r.warmup - 1.0) / r.warmup);
    EXPECT_DOUBLE_EQ(schedule.lr(r.warmup).value(), 1.0) << r.num_examples;
    double rate = 1.0;
    for (int64_t decay : r.decays) {
      EXPECT_DOUBLE_EQ(schedule.lr(decay).value(), rate) << r.num_examples << " " << decay;
      rate /= 10;
      EXPECT_DOUBLE_EQ(schedule.lr(decay + 1).value(), rate) << r.num_examples << " " << decay;
    }
  }
}

// Scaled steps round to nearest, not down: 7 steps of the small regime (7/500 of 100, 200, 300,
// 400 = 1.4, 2.8, 4.2, 5.6) warm up for 1 and decay after 3, 4 and 6.
TEST(LrScheduleTest, ScaledStepsRoundToNearest) {
  const WarmupStaircase seven = bit_hyperrule_schedule(1000, 1.0, 7);
  const std::vector<double> expected = {0.0, 1.0, 1.0, 1.0, 0.1, 0.01, 0.01};
  for (int64_t step = 0; step < 7; ++step) {
    EXPECT_DOUBLE_EQ(seven.lr(step).value(), expected[step]) << step;
  }
  // Upstream, 100 steps: warmup 16/90 of them (17.8, so 18), decays after 33.3, 66.7 and 88.9.
  const WarmupStaircase upstream = bit_upstream_schedule(1.0, 100);
  EXPECT_DOUBLE_EQ(upstream.lr(9).value(), 0.5);
  EXPECT_DOUBLE_EQ(upstream.lr(18).value(), 1.0);
  EXPECT_DOUBLE_EQ(upstream.lr(67).value(), 0.1);
  EXPECT_DOUBLE_EQ(upstream.lr(68).value(), 0.01);
  EXPECT_DOUBLE_EQ(upstream.lr(89).value(), 0.01);
  EXPECT_DOUBLE_EQ(upstream.lr(90).value(), 0.001);
}

// A run too short for any warmup (2 steps scale the small regime's 100 to 0) starts at the full
// rate, not at 0 / 0.
TEST(LrScheduleTest, NoWarmupStartsAtTheFullRate) {
  EXPECT_DOUBLE_EQ(WarmupStaircase(0.1, 0, {}, 5).lr(0).value(), 0.1);
  const WarmupStaircase two = bit_hyperrule_schedule(1000, 0.1, 2);
  EXPECT_DOUBLE_EQ(two.lr(0).value(), 0.1);
  EXPECT_DOUBLE_EQ(two.lr(1).value(), 0.1);
}

TEST(LrScheduleTest, UpstreamScheduleDecaysAtEpochs30And60And80Of90) {
  // BiT-S on ILSVRC-2012: 90 epochs of 1.28M images at batch 4096 are 28125 steps, and its
  // 5000 warmup steps 16 of the epochs.
  WarmupStaircase bit_s = bit_upstream_schedule(0.48, 28125);
  EXPECT_DOUBLE_EQ(bit_s.lr(2500).value(), 0.24);
  EXPECT_DOUBLE_EQ(bit_s.lr(5000).value(), 0.48);
  EXPECT_DOUBLE_EQ(bit_s.lr(9375).value(), 0.48);  // epoch 30 ends at step 9375
  EXPECT_DOUBLE_EQ(bit_s.lr(9376).value(), 0.048);
  EXPECT_DOUBLE_EQ(bit_s.lr(18751).value(), 0.0048);
  EXPECT_DOUBLE_EQ(bit_s.lr(25000).value(), 0.0048);  // epoch 80 ends at step 25000
  EXPECT_DOUBLE_EQ(bit_s.lr(25001).value(), 0.00048);
  EXPECT_FALSE(bit_s.lr(28125).has_value());
  // BiT-M on ImageNet-21k (14.2M images, 312k steps) warms up for 5000 steps too.
  EXPECT_DOUBLE_EQ(bit_upstream_schedule(0.48, 312000).lr(5000).value(), 0.48);
  EXPECT_DOUBLE_EQ(bit_upstream_schedule(0.48, 312000).lr(4999).value(), 0.48 * 4999 / 5000);
  // A short run warms up for 16 of its 90 epochs, not 5000 steps: 900 steps, 160 of warmup.
  WarmupStaircase short_run = bit_upstream_schedule(0.1, 900);
  EXPECT_DOUBLE_EQ(short_run.lr(80).value(), 0.05);
  EXPECT_DOUBLE_EQ(short_run.lr(160).value(), 0.1);
  EXPECT_DOUBLE_EQ(short_run.lr(301).value(), 0.01);
  EXPECT_DOUBLE_EQ(short_run.lr(801).value(), 1e-4);
}

TEST(LrScheduleTest, BadArgumentsAreReported) {
  EXPECT_TRUE(testing::throws_error([] { WarmupStaircase(0.1, 10, {5, 3}, 20); }, {"increasing"}));
  EXPECT_TRUE(testing::throws_error([] { WarmupStaircase(0.1, 10, {}, 0); }, {"total_steps"}));
  EXPECT_TRUE(testing::throws_error([] { WarmupStaircase(0.1, -1, {}, 5); },
                                    {"warmup_steps >= 0", "got 0.1, -1, 5"}));
  EXPECT_TRUE(testing::throws_error([] { WarmupStaircase(-0.1, 0, {}, 5); },
                                    {"base_lr >= 0", "got -0.1, 0, 5"}));
  EXPECT_TRUE(testing::throws_error([] { bit_hyperrule_schedule(0); }, {"dataset is empty"}));
  EXPECT_TRUE(testing::throws_error([] { bit_hyperrule_schedule(100, 0.1, 0); },
                                    {"bit_hyperrule_schedule", "total_steps"}));
  EXPECT_TRUE(testing::throws_error([] { bit_upstream_schedule(0.1, 0); },
                                    {"bit_upstream_schedule", "total_steps"}));
}

}  // namespace
}  // namespace bitgrad
