#include "train/progress.h"

#include <sstream>

#include "gtest/gtest.h"

namespace bitgrad {
namespace {

TEST(ProgressTest, SecondsLeftGoOnAtThePaceSoFar) {
  EXPECT_DOUBLE_EQ(seconds_left(10.0, 2, 20), 90.0);  // 5 s each, 18 to go
  EXPECT_DOUBLE_EQ(seconds_left(10.0, 20, 20), 0.0);
  EXPECT_DOUBLE_EQ(seconds_left(10.0, 0, 20), 0.0);  // no pace yet
}

TEST(ProgressTest, DurationsReadAsClockTimes) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(125.4), "2:05");
  EXPECT_EQ(format_duration(3723), "1:02:03");
}

// A log line (not a terminal) at the last step, with the ETA of what is left: none.
TEST(ProgressTest, TheLastStepIsAlwaysShown) {
  std::ostringstream out;
  ProgressMeter meter(4, 8, /*print_every_seconds=*/1e9, out);
  meter.update(1, 0.5, 0.1);
  EXPECT_EQ(out.str(), "");  // not due yet
  meter.update(4, 0.25, 0.1);
  EXPECT_NE(out.str().find("step 4/4  loss 0.2500  lr 1.00e-01"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("ETA 0:00\n"), std::string::npos) << out.str();
}

}  // namespace
}  // namespace bitgrad
