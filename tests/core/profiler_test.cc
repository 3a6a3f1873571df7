#include "core/profiler.h"

#include <chrono>
#include <thread>

#include "core/dispatch.h"
#include "gtest/gtest.h"

namespace bitgrad {
namespace {

BG_KERNEL_SLOT(TestSleepy, int(const Tensor& x, int ms));
BG_KERNEL_SLOT(TestCallsSleepy, int(const Tensor& x));
int sleepy(const Tensor&, int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
int calls_sleepy(const Tensor& x) { return call<TestSleepy>(x, 20); }
BG_REGISTER_KERNEL(TestSleepy, kRef, sleepy);
BG_REGISTER_KERNEL(TestCallsSleepy, kRef, calls_sleepy);

TEST(ProfilerTest, CountsCallsAndExclusiveTime) {
  Tensor x = zeros({1});
  Profiler profiler;
  profiler.start();
  call<TestSleepy>(x, 10);
  call<TestSleepy>(x, 10);
  call<TestCallsSleepy>(x);
  profiler.stop();
  call<TestSleepy>(x, 1);  // after stop: not counted

  std::vector<KernelTime> results = profiler.results();
  ASSERT_EQ(results.size(), 2u);
  const KernelTime& sleepy_time = results[0].slot == "TestSleepy" ? results[0] : results[1];
  const KernelTime& outer_time = results[0].slot == "TestSleepy" ? results[1] : results[0];
  EXPECT_EQ(sleepy_time.calls, 3);
  EXPECT_EQ(sleepy_time.backend, "ref");
  EXPECT_GE(sleepy_time.seconds, 0.040);
  EXPECT_EQ(outer_time.calls, 1);
  EXPECT_LT(outer_time.seconds, 0.010);  // its 20 ms are charged to TestSleepy
  EXPECT_NE(profiler.report().find("TestCallsSleepy"), std::string::npos);
}

TEST(ProfilerTest, OnlyOneRunsAtATime) {
  Profiler a, b;
  a.start();
  EXPECT_THROW(b.start(), Error);
  a.stop();
}

}  // namespace
}  // namespace bitgrad
