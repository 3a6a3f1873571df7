#include "train/progress.h"

#include <chrono>
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

// The pace goes on over the updates on both sides of an evaluation, and the ETA adds the
// evaluations to come at the length of those so far.
TEST(ProgressTest, EvaluationsAreLeftOutOfThePaceAndCountedInTheEta) {
  std::ostringstream out;
  ProgressMeter meter(10, 4, /*print_every_seconds=*/0, out);
  ProgressMeter::Clock::time_point now{};
  meter.set_clock([&now] { return now; });
  meter.restart(0);
  meter.set_pauses_left(2);  // after updates 5 and 10
  for (int64_t step = 1; step <= 5; ++step) {
    now += std::chrono::seconds(2);
    meter.update(step, 0.5, 0.1);
  }
  // 5 updates left at 2 s; no evaluation measured yet.
  EXPECT_NE(out.str().find("step 5/10  loss 0.5000  lr 1.00e-01  2.0 img/s  elapsed 0:10  "
                           "ETA 0:10\n"),
            std::string::npos)
      << out.str();
  now += std::chrono::seconds(10);
  meter.end_pause();
  now += std::chrono::seconds(4);
  meter.update(6, 0.5, 0.1);
  // The pace of all six updates, 24 images in 14 s; 4 updates at 14/6 s, and the last
  // evaluation at 10 s.
  EXPECT_NE(out.str().find("step 6/10  loss 0.5000  lr 1.00e-01  1.7 img/s  elapsed 0:24  "
                           "ETA 0:19\n"),
            std::string::npos)
      << out.str();
}

// An hour and more shows the hours: 59:59 is followed by 1:00:00, never 60:00.
TEST(ProgressTest, AnHourShowsItsHours) {
  EXPECT_EQ(format_duration(3599.4), "59:59");
  EXPECT_EQ(format_duration(3599.6), "1:00:00");
  EXPECT_EQ(format_duration(3600), "1:00:00");
}

// On a terminal the line is redrawn in place, and closed once before other output.
TEST(ProgressTest, OnATerminalTheLineIsRedrawnInPlace) {
  std::ostringstream out;
  ProgressMeter meter(4, 8, /*print_every_seconds=*/0, out);
  meter.set_columns([] { return 0; });  // whatever terminal runs the test
  meter.set_one_line(true);
  meter.update(4, 0.25, 0.1, "top-1 0.50");
  const std::string line = out.str();
  EXPECT_EQ(line.rfind("\rstep 4/4  loss 0.2500  lr 1.00e-01  ", 0), 0u) << line;
  const std::string end = "ETA 0:00  top-1 0.50\033[K";
  EXPECT_EQ(line.substr(line.size() - end.size()), end) << line;
  meter.end_line();
  meter.end_line();
  EXPECT_EQ(out.str(), line + "\n");
}

// A line as wide as the terminal would wrap, and "\r" would redraw only its last row: the line
// drops the elapsed time first, then its end. Logs keep every field.
TEST(ProgressTest, OnATerminalTheLineFitsItsWidth) {
  const auto line_at = [](int columns, bool one_line) {
    std::ostringstream out;
    ProgressMeter meter(12000, 512, /*print_every_seconds=*/0, out);
    ProgressMeter::Clock::time_point now{};
    meter.set_clock([&] { return now; });
    meter.set_columns([columns] { return columns; });
    meter.set_one_line(one_line);
    now += std::chrono::seconds(4000);
    meter.update(10000, 0.25, 0.1);
    return out.str();
  };
  const std::string full =
      "step 10000/12000  loss 0.2500  lr 1.00e-01  1280.0 img/s  elapsed 1:06:40  ETA 13:20";
  EXPECT_EQ(line_at(0, true), "\r" + full + "\033[K");    // width unknown: all of it
  EXPECT_EQ(line_at(200, true), "\r" + full + "\033[K");
  EXPECT_EQ(line_at(full.size(), true),
            "\rstep 10000/12000  loss 0.2500  lr 1.00e-01  1280.0 img/s  ETA 13:20\033[K");
  EXPECT_EQ(line_at(30, true), "\rstep 10000/12000  loss 0.2500\033[K");
  EXPECT_EQ(line_at(30, false), full + "\n");
}

// A resumed run's pace counts the updates since it restarted, not since step 0.
TEST(ProgressTest, AResumedRunsPaceCountsOnlyItsOwnUpdates) {
  std::ostringstream out;
  ProgressMeter meter(10, 4, /*print_every_seconds=*/0, out);
  ProgressMeter::Clock::time_point now{};
  meter.set_clock([&now] { return now; });
  meter.restart(4);
  for (int64_t step = 5; step <= 6; ++step) {
    now += std::chrono::seconds(2);
    meter.update(step, 0.5, 0.1);
  }
  // 2 updates in 4 s: 2.0 img/s, and 4 updates left at 2 s.
  EXPECT_NE(out.str().find("step 6/10  loss 0.5000  lr 1.00e-01  2.0 img/s  elapsed 0:04  "
                           "ETA 0:08\n"),
            std::string::npos)
      << out.str();
}

// An evaluation beyond those announced (the final one) adds nothing to the ETA, and takes
// nothing away.
TEST(ProgressTest, APauseBeyondThoseAnnouncedLeavesTheEtaAlone) {
  std::ostringstream out;
  ProgressMeter meter(10, 4, /*print_every_seconds=*/0, out);
  ProgressMeter::Clock::time_point now{};
  meter.set_clock([&now] { return now; });
  meter.restart(0);
  now += std::chrono::seconds(2);
  meter.update(1, 0.5, 0.1);
  now += std::chrono::seconds(30);
  meter.end_pause();
  now += std::chrono::seconds(2);
  meter.update(2, 0.5, 0.1);
  // 8 updates left at 2 s.
  EXPECT_NE(out.str().find("step 2/10  loss 0.5000  lr 1.00e-01  2.0 img/s  elapsed 0:34  "
                           "ETA 0:16\n"),
            std::string::npos)
      << out.str();
}

}  // namespace
}  // namespace bitgrad
