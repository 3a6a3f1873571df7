#include "train/cpu_contention.h"

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace bitgrad {
namespace {

constexpr char kProcStat[] =
    "cpu  900 0 300 5000 20 0 10 40 0 0\n"
    "cpu0 400 0 100 2500 10 0 5 20 0 0\n"
    "cpu1 500 0 200 2500 10 0 5 20 0 0\n"
    "intr 12345\n";

TEST(CpuContentionTest, BusyTimeCountsTheGivenCpusWithoutIdleOrIowait) {
  EXPECT_DOUBLE_EQ(*busy_seconds_of(kProcStat, {0}, 100), (400 + 100 + 20) / 100.0);
  EXPECT_DOUBLE_EQ(*busy_seconds_of(kProcStat, {0, 1}, 100), (520 + 720) / 100.0);
  EXPECT_FALSE(busy_seconds_of(kProcStat, {0, 2}, 100).has_value());  // no cpu2 line
  EXPECT_FALSE(busy_seconds_of("cpu0 1 2\n", {0}, 100).has_value());
  EXPECT_FALSE(busy_seconds_of(kProcStat, {}, 100).has_value());
  // Kernels before 2.6.24 end the line at steal; without steal a line is no CPU's.
  EXPECT_DOUBLE_EQ(*busy_seconds_of("cpu0 1 2 3 400 500 600 700 8\n", {0}, 1), 1 + 2 + 3 + 8);
  EXPECT_FALSE(busy_seconds_of("cpu0 1 2 3 400 500 600 700\n", {0}, 1).has_value());
}

TEST(CpuContentionTest, ANoteOnlyWhenOthersLeaveFewerCoresThanTheThreads) {
  EXPECT_EQ(contention_note(0.1, 2, 2), "");  // daemons
  EXPECT_EQ(contention_note(1.0, 1, 2), "");  // one thread, one free core
  EXPECT_EQ(contention_note(1.5, 2, 4), "");
  EXPECT_EQ(contention_note(3.0, 1, 2), "");  // one thread has no barrier to wait at
  EXPECT_EQ(contention_note(2.0, 2, 4), "");  // exactly the cores the threads need are free
  EXPECT_NE(contention_note(0.5, 2, 2), "");  // half a core of others' work already stalls one
  const std::string note = contention_note(1.0, 2, 2);
  EXPECT_NE(note.find("other work used 1.0 of the 2 cores this run's 2 threads"),
            std::string::npos)
      << note;
  EXPECT_NE(note.find("OMP_NUM_THREADS"), std::string::npos) << note;
  EXPECT_NE(contention_note(0.6, 8, 8), "");
  const std::string too_many = contention_note(0.0, 4, 2);  // OMP_NUM_THREADS above the cores
  EXPECT_NE(too_many.find("this run computes with 4 threads on the 2 cores it may use"),
            std::string::npos)
      << too_many;
}

// Children spinning on both cores this process may use are other work, which the watch notes
// once. The test and its children keep to two CPUs, whatever the machine has.
TEST(CpuContentionTest, TheWatchSeesOtherProcessesSpinning) {
  cpu_set_t allowed, two;
  ASSERT_EQ(sched_getaffinity(0, sizeof allowed, &allowed), 0);
  CPU_ZERO(&two);
  for (int cpu = 0; cpu < CPU_SETSIZE && CPU_COUNT(&two) < 2; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) CPU_SET(cpu, &two);
  }
  ASSERT_EQ(sched_setaffinity(0, sizeof two, &two), 0);
  std::vector<pid_t> spinners;
  for (int i = 0; i < CPU_COUNT(&two); ++i) {
    const pid_t child = fork();
    ASSERT_GE(child, 0) << "fork failed";
    if (child == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // not left spinning if the test is killed
      for (volatile unsigned long n = 0;; n = n + 1) {
      }
    }
    spinners.push_back(child);
  }
  CpuContentionWatch watch(/*threads=*/2, /*every_seconds=*/1.0);
  CpuContentionWatch hourly(/*threads=*/2, /*every_seconds=*/3600);  // measures nothing yet
  std::string note, hourly_note;
  for (int i = 0; i < 30 && note.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    note = watch.poll();
    hourly_note += hourly.poll();
  }
  for (pid_t child : spinners) {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  }
  ASSERT_EQ(sched_setaffinity(0, sizeof allowed, &allowed), 0);
  EXPECT_NE(note.find("other work used"), std::string::npos) << note;
  EXPECT_EQ(watch.poll(), "");  // once
  EXPECT_EQ(hourly_note, "");
}

}  // namespace
}  // namespace bitgrad
