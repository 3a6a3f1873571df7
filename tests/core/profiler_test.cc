#include "core/profiler.h"

#include <time.h>

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

// Keeps this thread and a second one busy for `ms` of wall time each, and records the CPU time
// the two threads got (less than 2 x ms on a loaded machine).
double busy_threads_cpu_seconds = 0;
double thread_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
BG_KERNEL_SLOT(TestBusyTwoThreads, int(const Tensor& x, int ms));
int busy_two_threads(const Tensor&, int ms) {
  auto spin = [ms] {
    const double start = thread_cpu_seconds();
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    volatile int64_t n = 0;
    while (std::chrono::steady_clock::now() < end) n = n + 1;
    return thread_cpu_seconds() - start;
  };
  double other_cpu = 0;
  std::thread other([&] { other_cpu = spin(); });
  const double own_cpu = spin();
  other.join();
  busy_threads_cpu_seconds = own_cpu + other_cpu;
  return ms;
}
BG_REGISTER_KERNEL(TestBusyTwoThreads, kRef, busy_two_threads);

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
  // Its 20 ms are charged to TestSleepy; the margin is for a preempted thread on a busy machine.
  EXPECT_LT(outer_time.seconds, 0.015);
  EXPECT_NE(profiler.report().find("TestCallsSleepy"), std::string::npos);
}

// CPU time counts every thread of the process; a sleeping kernel uses almost none.
TEST(ProfilerTest, CpuTimeCountsBusyThreads) {
  Tensor x = zeros({1});
  Profiler profiler;
  profiler.start();
  call<TestSleepy>(x, 30);
  call<TestBusyTwoThreads>(x, 60);
  profiler.stop();
  std::vector<KernelTime> results = profiler.results();
  ASSERT_EQ(results.size(), 2u);
  const KernelTime& busy = results[0];  // most expensive first
  const KernelTime& sleepy_time = results[1];
  ASSERT_EQ(busy.slot, "TestBusyTwoThreads");
  EXPECT_LT(sleepy_time.cpu_seconds, 0.5 * sleepy_time.seconds);
  EXPECT_GE(busy.cpu_seconds, 0.9 * busy_threads_cpu_seconds);
  EXPECT_GT(busy_threads_cpu_seconds, 0.0);
  EXPECT_NE(profiler.report().find("cores"), std::string::npos);
}

TEST(ProfilerTest, RecordsEachCallInOrderWithItsDepthWhenAsked) {
  Tensor x = zeros({1});
  Profiler profiler;
  profiler.start(/*record_calls=*/true);
  call<TestSleepy>(x, 5);
  call<TestCallsSleepy>(x);  // calls TestSleepy for 20 ms
  profiler.stop();
  const std::vector<KernelCall>& calls = profiler.calls();
  ASSERT_EQ(calls.size(), 3u);
  const char* slots[] = {"TestSleepy", "TestCallsSleepy", "TestSleepy"};
  const int depths[] = {0, 0, 1};
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].slot, slots[i]) << i;
    EXPECT_EQ(calls[i].depth, depths[i]) << i;
    EXPECT_EQ(calls[i].backend, "ref") << i;
  }
  EXPECT_GE(calls[0].seconds, 0.004);
  EXPECT_GE(calls[1].seconds, 0.019);  // inclusive: its inner call
  profiler.start();  // without recording: no calls kept
  call<TestSleepy>(x, 1);
  profiler.stop();
  EXPECT_TRUE(profiler.calls().empty());
}

TEST(ProfilerTest, OnlyOneRunsAtATime) {
  Profiler a, b;
  a.start();
  EXPECT_THROW(b.start(), Error);
  a.stop();
}

}  // namespace
}  // namespace bitgrad
