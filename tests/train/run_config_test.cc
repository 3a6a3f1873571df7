#include "train/run_config.h"

#include <cmath>
#include <cstdint>

#include "data/idx_dataset.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ops/loss.h"
#include "ops/math_mode.h"
#include "tests/testing/assertions.h"
#include "train/finetune.h"

namespace bitgrad {
namespace {

RunConfig valid() {
  RunConfig c;
  c.set_weights("random");
  c.set_dataset("cifar10:/data/cifar");
  c.set_batch(64);
  c.set_batch_split(4);
  c.set_base_lr(0.003);
  c.set_schedule("hyperrule");
  c.set_augment("bit");
  c.set_workers(2);
  return c;
}

TEST(RunConfigTest, AValidConfigPasses) { EXPECT_TRUE(check_run_config(valid()).ok()); }

TEST(RunConfigTest, ErrorsNameTheFlagAndWhatWasExpected) {
  RunConfig c = valid();
  c.set_batch_split(3);
  EXPECT_TRUE(testing::fails_naming(check_run_config(c), {"--batch_split", "divide", "64"}));
  c = valid();
  c.set_schedule("cosine");
  EXPECT_TRUE(testing::fails_naming(check_run_config(c), {"--schedule", "hyperrule", "cosine"}));
  c = valid();
  c.set_schedule("upstream");
  c.set_steps(0);
  EXPECT_TRUE(testing::fails_naming(check_run_config(c), {"--schedule", "upstream needs --steps"}));
  c = valid();
  c.set_augment("heavy");
  EXPECT_TRUE(testing::fails_naming(check_run_config(c),
                                    {"--augment", "bit, shift, flip, inception or none", "heavy"}));
  c = valid();
  c.set_loss("hinge");
  EXPECT_TRUE(
      testing::fails_naming(check_run_config(c), {"--loss", "softmax or sigmoid", "hinge"}));
  c = valid();
  c.set_weight_decay(-1e-4);
  EXPECT_TRUE(testing::fails_naming(check_run_config(c), {"--weight_decay", ">= 0"}));
  // Not a finite number in range: nan passes every comparison, inf hung the mixup sampler, and
  // an int64 overflow evaluated 0 images and called it a result.
  const double nan = std::nan(""), inf = INFINITY;
  for (double bad : {-1.0, 1e-9, 1e307, nan, inf}) {
    c = valid();
    c.set_bucket_mb(bad);
    EXPECT_TRUE(
        testing::fails_naming(check_run_config(c), {"--bucket_mb", "from 0.001 to 1048576"}))
        << bad;
  }
  for (double bad : {nan, inf, -inf}) {
    c = valid();
    c.set_base_lr(bad);
    EXPECT_TRUE(testing::fails_naming(check_run_config(c), {"--base_lr", "finite"})) << bad;
    c = valid();
    c.set_weight_decay(bad);
    EXPECT_TRUE(testing::fails_naming(check_run_config(c), {"--weight_decay", "finite"})) << bad;
    c = valid();
    c.set_mixup_alpha(bad);
    EXPECT_TRUE(testing::fails_naming(check_run_config(c), {"--mixup_alpha", "finite"})) << bad;
  }
  c = valid();
  c.set_batch(kMaxBatch + 1);
  c.set_batch_split(1);
  EXPECT_TRUE(testing::fails_naming(check_run_config(c), {"--batch", "at most 1048576"}));
  c = valid();
  c.set_eval_batch(INT64_MAX);
  EXPECT_TRUE(testing::fails_naming(check_run_config(c), {"--eval_batch", "at most 1048576"}));
  c = valid();
  for (const int64_t bad : {int64_t{-1}, int64_t{16}, BitConfig::kMinResolution - 1,
                            BitConfig::kMaxResolution + 1}) {
    c.set_resolution(bad);
    EXPECT_TRUE(testing::fails_naming(
        check_run_config(c),
        {"--resolution: expected a size in pixels from 32", "to 65536, or 0 for the HyperRule's",
         absl::StrCat("got ", bad)}))
        << bad;
  }
  for (const int64_t good : {int64_t{0}, BitConfig::kMinResolution, BitConfig::kMaxResolution}) {
    c.set_resolution(good);
    EXPECT_TRUE(check_run_config(c).ok()) << good;
  }
  c = valid();
  c.set_base_width(-1);
  EXPECT_TRUE(testing::fails_naming(check_run_config(c), {"--base_width", ">= 0"}));
  c = valid();
  c.set_num_groups(-1);
  EXPECT_TRUE(testing::fails_naming(check_run_config(c), {"--num_groups", ">= 0"}));
  c = valid();
  c.set_dtype("fp16");
  EXPECT_TRUE(testing::fails_naming(check_run_config(c), {"--dtype", "fp32 or bf16", "fp16"}));
  c.set_dtype("bf16");  // on the CPU: fine where it has bf16 convolutions (the check registered)
  if (bf16_autocast_problem(DeviceType::kCPU).empty()) {
    EXPECT_TRUE(check_run_config(c).ok());
  } else {
    EXPECT_TRUE(testing::fails_naming(check_run_config(c),
                                      {"--dtype", "bf16 on the CPU", "AMX"}));
  }
  c = valid();
  c.set_resume(true);
  EXPECT_TRUE(testing::fails_naming(check_run_config(c), {"--resume", "--out"}));
  c = valid();
  c.set_dataset("imagenet:/data");
  EXPECT_TRUE(testing::fails_naming(check_run_config(c), {"--dataset", "imagenet"}));
  c = valid();
  c.set_dataset("folder:/data");
  for (double bad : {-0.5, 1.0}) {
    c.set_test_fraction(bad);
    EXPECT_TRUE(testing::fails_naming(check_run_config(c), {"--test_fraction", "[0, 1)"}));
  }
  c.set_test_fraction(0.2);
  EXPECT_TRUE(check_run_config(c).ok());
  c.set_dataset("cifar10:/data");
  EXPECT_TRUE(testing::fails_naming(check_run_config(c),
                                    {"--test_fraction", "folder:DIR", "test split of their own"}));
}

TEST(RunConfigTest, DatasetSpecs) {
  absl::StatusOr<DatasetSpec> spec = parse_dataset_spec("cifar100:/x/y");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->format, DatasetFormat::kCifar100);
  EXPECT_EQ(spec->path, "/x/y");
  spec = parse_dataset_spec("fashion_mnist");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->path, kFashionMnistDir);
  EXPECT_TRUE(testing::fails_naming(parse_dataset_spec("folder").status(),
                                    {"--dataset", "folder:PATH"}));
}

// What --resume compares: the settings that change what a run computes, not where or how it runs
// (a run directory may be moved between a kill and its resume).
TEST(RunConfigTest, ComputedSettingsLeaveOutWhereAndHowARunWorks) {
  RunConfig moved = valid();
  moved.set_resume(true);
  moved.set_workers(8);
  moved.set_bucket_mb(4);
  moved.set_device("cuda:1");
  moved.set_out("/runs/moved");
  moved.set_save_weights("/runs/moved/final.npz");
  EXPECT_EQ(differing_settings(computed_settings(moved), computed_settings(valid())), "");

  RunConfig changed = valid();
  changed.set_steps(7);
  changed.set_base_lr(0.01);
  EXPECT_EQ(differing_settings(computed_settings(changed), computed_settings(valid()),
                               "in the checkpoint", "given"),
            "--steps=7 in the checkpoint, 0 given; --base_lr=0.01 in the checkpoint, 0.003 given");
}

TEST(RunConfigTest, TextRoundTrips) {
  const RunConfig c = valid();
  absl::StatusOr<RunConfig> back = parse_run_config(run_config_text(c), "test");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(run_config_text(*back), run_config_text(c));
  EXPECT_TRUE(testing::fails_naming(parse_run_config("batch: \"many\"", "my.textproto").status(),
                                    {"my.textproto"}));
}

TEST(RunConfigTest, TheLossOfACheckpointsRun) {
  RunConfig c = valid();
  c.set_loss("sigmoid");
  EXPECT_EQ(run_loss(run_config_text(c)), "sigmoid");
  c.clear_loss();  // a run from before --loss
  EXPECT_EQ(run_loss(run_config_text(c)), "softmax");
  EXPECT_EQ(run_loss(""), "");  // an .npz
  EXPECT_EQ(run_loss("batch: \"many\""), "");
  EXPECT_EQ(loss_function(c), cross_entropy);
  c.set_loss("sigmoid");
  EXPECT_EQ(loss_function(c), sigmoid_cross_entropy);
}

// Two 28x28 gray images of two classes.
ImageSet two_images() {
  ImageSet train;
  train.source = "train";
  train.pixels = zeros({2, 28, 28, 1}, DType::kUInt8);
  train.labels = {0, 1};
  train.class_names = {"a", "b"};
  return train;
}

TEST(PlanFinetuneTest, TheScheduleFlagPicksTheSchedule) {
  RunConfig c = valid();
  c.set_steps(900);
  c.set_base_lr(0.1);
  c.set_schedule("upstream");
  absl::StatusOr<FinetunePlan> upstream = plan_finetune(c, two_images());
  ASSERT_TRUE(upstream.ok()) << upstream.status();
  EXPECT_DOUBLE_EQ(*upstream->schedule.lr(160), 0.1);  // warmup: 16 of 90 epochs
  EXPECT_DOUBLE_EQ(*upstream->schedule.lr(301), 0.01);  // after epoch 30 of 90
  c.set_schedule("hyperrule");  // stretched: warmup 180, decays after 360, 540, 720
  absl::StatusOr<FinetunePlan> hyperrule = plan_finetune(c, two_images());
  ASSERT_TRUE(hyperrule.ok()) << hyperrule.status();
  EXPECT_DOUBLE_EQ(*hyperrule->schedule.lr(301), 0.1);
  EXPECT_DOUBLE_EQ(*hyperrule->schedule.lr(361), 0.01);
}

TEST(PlanFinetuneTest, TheAugmentModeSetsTheTrainPathsWindow) {
  const ImageSet train = two_images();
  RunConfig c = valid();
  c.set_resolution(64);
  struct Case {
    std::string augment;
    int64_t precrop, shift;
    double min_box_area = 0;
  };
  for (const Case& expected : {Case{"bit", 80, 0}, Case{"shift", 64, 8}, Case{"flip", 64, 0},
                               Case{"inception", 64, 0, kInceptionMinBoxArea},
                               Case{"none", 80, 0}}) {
    c.set_augment(expected.augment);
    absl::StatusOr<FinetunePlan> plan = plan_finetune(c, train);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_EQ(plan->resolution.crop, 64) << expected.augment;
    EXPECT_EQ(plan->resolution.precrop, expected.precrop) << expected.augment;
    EXPECT_EQ(plan->resolution.shift, expected.shift) << expected.augment;
    EXPECT_EQ(plan->resolution.min_box_area, expected.min_box_area) << expected.augment;
  }
}

// The evaluations of a run: --eval_batch images at a time (--batch when 0), its loss, its flip.
TEST(EvalOptionsTest, TheRunsEvalFlagsReachTheEvaluation) {
  RunConfig c = valid();
  c.set_eval_batch(250);
  c.set_loss("sigmoid");
  c.set_eval_flip(true);
  const EvalOptions options = eval_options(c, 96);
  EXPECT_EQ(options.resolution, 96);
  EXPECT_EQ(options.batch, 250);
  EXPECT_EQ(options.workers, 2);
  EXPECT_EQ(options.loss_of, &sigmoid_cross_entropy);
  EXPECT_TRUE(options.flip);
  c.clear_eval_batch();
  EXPECT_EQ(eval_options(c, 96).batch, 64);
}

}  // namespace
}  // namespace bitgrad
