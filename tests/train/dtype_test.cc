// --dtype=bf16 end to end: where the CPU runs bf16 convolutions (AMX), a run says it runs them
// in bf16 and ends with a test loss close to float32's but not equal to it; elsewhere the run
// stops before training with an error naming --dtype.
#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "ops/math_mode.h"
#include "tests/train/finetune_binary.h"
#include "train/run.h"
#include "train/run_config.pb.h"

namespace bitgrad {
namespace {

RunConfig tiny_run(const std::string& dtype) {
  RunConfig c = testing::tiny_golden_run();
  c.set_steps(3);
  c.set_dtype(dtype);
  return c;
}

TEST(DtypeTest, ABf16RunSaysSoAndEndsNearFloat32OrStopsSayingWhy) {
  std::ostringstream float32_log, bf16_log;
  absl::StatusOr<FinetuneResult> float32 = run_finetune(tiny_run("fp32"), float32_log);
  ASSERT_TRUE(float32.ok()) << float32.status();
  absl::StatusOr<FinetuneResult> bf16 = run_finetune(tiny_run("bf16"), bf16_log);
  EXPECT_FALSE(bf16_autocast_enabled()) << "run_finetune left the process-wide switch on";
  if (!bf16_autocast_problem(DeviceType::kCPU).empty()) {
    ASSERT_FALSE(bf16.ok());
    EXPECT_NE(bf16.status().message().find("--dtype"), std::string::npos) << bf16.status();
    EXPECT_EQ(bf16_log.str().find("training:"), std::string::npos) << "it trained";
    return;
  }
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  EXPECT_NE(bf16_log.str().find("convolutions in bf16"), std::string::npos) << bf16_log.str();
  EXPECT_EQ(float32_log.str().find("bf16"), std::string::npos) << float32_log.str();
  const double bf16_loss = bf16->test.loss, float32_loss = float32->test.loss;
  ASSERT_TRUE(std::isfinite(bf16_loss));
  EXPECT_NEAR(bf16_loss, float32_loss, 0.05 * std::fabs(float32_loss));
  EXPECT_NE(bf16_loss, float32_loss);  // the convolutions did run in bf16
}

}  // namespace
}  // namespace bitgrad
