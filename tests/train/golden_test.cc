// issue 13: "With --augment=none --shuffle=false --schedule=constant --mixup_alpha=0, a run is
// plain mini-batch SGD over the training set in file order ... An independent PyTorch run of 3
// steps then gives the same weights within 1e-3 relative." The PyTorch side is
// tools/golden/gen_finetune_golden.py; this runs the whole bit_finetune path (npz dataset
// reader, loader, eval-path preprocessing, update, save_weights) against it.
#include <filesystem>
#include <iostream>
#include <string>

#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "io/npz.h"
#include "tests/golden/golden.h"
#include "train/metrics_log.h"
#include "train/run.h"

namespace bitgrad {
namespace {

constexpr char kData[] = "tests/train/testdata/finetune_golden_data.npz";
constexpr char kModel[] = "tests/train/testdata/finetune_golden_model.npz";
constexpr char kExpected[] = "tests/train/testdata/finetune_golden_expected.npz";
// Each array's change over the 3 steps, scaled as in golden.h close(); measured: at most 9.9e-4
// of its scale: the float32 rounding of weights up to 10^4 times larger than their change.
constexpr double kChangeTol = 5e-3;

RunConfig golden_run(int64_t batch_split, const std::string& out) {
  RunConfig c;
  c.set_weights(kModel);
  c.set_base_width(4);
  c.set_num_groups(2);
  c.set_dataset(std::string("npz:") + kData);
  c.set_batch(4);
  c.set_batch_split(batch_split);
  c.set_steps(3);
  c.set_base_lr(0.003);
  c.set_schedule("constant");
  c.set_mixup_alpha(0);
  c.set_augment("none");
  c.set_resolution(32);  // the images' own size: no resize
  c.set_shuffle(false);
  c.set_workers(2);
  c.set_out(out);
  c.set_save_weights(out + "/final.npz");
  return c;
}

class FinetuneGoldenTest : public ::testing::TestWithParam<int64_t> {};

TEST_P(FinetuneGoldenTest, ThreeStepsMatchPyTorch) {
  const std::string out = ::testing::TempDir() + "/golden_split" + std::to_string(GetParam());
  std::filesystem::remove_all(out);
  absl::StatusOr<FinetuneResult> result = run_finetune(golden_run(GetParam(), out), std::cout);
  ASSERT_TRUE(result.ok()) << result.status();

  absl::StatusOr<NamedArrays> actual = read_npz(out + "/final.npz");
  ASSERT_TRUE(actual.ok()) << actual.status();
  ASSERT_EQ(actual->size(), 153u);
  const golden::Fixture expected(kExpected), initial(kModel);
  for (const auto& [key, array] : *actual) {
    // The weights, as the issue asks; and the change over the 3 steps, which is small next to
    // the weights, so that a wrong update cannot hide under the 1e-3.
    EXPECT_TRUE(golden::close(array, expected[key], 1e-3)) << key;
    EXPECT_TRUE(golden::close(array - initial[key], expected[key] - initial[key], kChangeTol))
        << key << " (change over the 3 steps)";
  }

  absl::StatusOr<std::vector<std::pair<int64_t, Scalars>>> lines =
      read_metrics(out + "/metrics.jsonl");
  ASSERT_TRUE(lines.ok()) << lines.status();
  const std::vector<float> losses = expected["loss"].to_vector<float>();
  int64_t step = 0;
  for (const auto& [line_step, scalars] : *lines) {
    if (scalars[0].first != "train/loss") continue;
    ASSERT_LT(step, 3);
    EXPECT_NEAR(scalars[0].second, losses[step], 1e-4 * losses[step]) << "step " << step;
    ++step;
  }
  EXPECT_EQ(step, 3);
}

INSTANTIATE_TEST_SUITE_P(BatchSplit, FinetuneGoldenTest, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return "split" + std::to_string(info.param); });

}  // namespace
}  // namespace bitgrad
