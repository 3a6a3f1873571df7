// StopOnSignals in this process, signal by signal: what it notes, what it leaves alone, and the
// handlers it puts back. (tests/train/kill_test.cc signals a whole run of bit_finetune.)
#include "train/stop_signals.h"

#include <csignal>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace bitgrad {
namespace {

volatile sig_atomic_t handled_by_test = 0;  // the signal test_handler last caught
extern "C" void test_handler(int signal) { handled_by_test = signal; }

// The handler in place for `signal`.
void (*handler_of(int signal))(int) {
  struct sigaction current = {};
  ::sigaction(signal, nullptr, &current);
  return current.sa_handler;
}

// Sets `handler` for `signal` while it lives; the one before comes back after.
class ScopedHandler {
 public:
  ScopedHandler(int signal, void (*handler)(int)) : signal_(signal) {
    struct sigaction action = {};
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    ::sigaction(signal, &action, &previous_);
  }
  ~ScopedHandler() { ::sigaction(signal_, &previous_, nullptr); }

 private:
  int signal_;
  struct sigaction previous_ = {};
};

// Ctrl-C once stops a run after its update; twice does what Ctrl-C did before (kills it).
TEST(StopOnSignalsTest, TheFirstSignalIsNotedAndTheSecondGoesToTheHandlerBefore) {
  ScopedHandler before(SIGTERM, test_handler);
  handled_by_test = 0;
  {
    StopOnSignals signals;
    EXPECT_EQ(signals.received(), 0);
    std::raise(SIGTERM);
    EXPECT_EQ(signals.received(), SIGTERM);
    EXPECT_EQ(handled_by_test, 0) << "the first one is only noted";
    std::raise(SIGTERM);
    EXPECT_EQ(handled_by_test, SIGTERM);
  }
  // The next run (the transfer experiment's next stage) starts with none received.
  StopOnSignals next;
  EXPECT_EQ(next.received(), 0);
}

// A script's background job ignores SIGINT on purpose: the run must go on.
TEST(StopOnSignalsTest, ASignalTheProcessIgnoresStaysIgnored) {
  ScopedHandler ignored(SIGINT, SIG_IGN);
  StopOnSignals signals;
  EXPECT_EQ(handler_of(SIGINT), SIG_IGN);
  std::raise(SIGINT);
  EXPECT_EQ(signals.received(), 0);
}

TEST(StopOnSignalsTest, TheHandlersBeforeComeBackWhenItEnds) {
  ScopedHandler on_int(SIGINT, test_handler), on_term(SIGTERM, test_handler);
  ScopedHandler on_pipe(SIGPIPE, SIG_DFL);
  {
    StopOnSignals signals;
    EXPECT_NE(handler_of(SIGINT), test_handler);
    EXPECT_NE(handler_of(SIGTERM), test_handler);
    // Under `| tee log`, a write after Ctrl-C ended tee must fail, not kill the run.
    EXPECT_EQ(handler_of(SIGPIPE), SIG_IGN);
  }
  EXPECT_EQ(handler_of(SIGINT), test_handler);
  EXPECT_EQ(handler_of(SIGTERM), test_handler);
  EXPECT_EQ(handler_of(SIGPIPE), SIG_DFL);
}

TEST(StopOnSignalsTest, AStatusCarriesTheSignalThatStoppedTheRun) {
  const absl::Status stopped = stopped_by_signal(SIGTERM, "stopped by SIGTERM after update 3");
  EXPECT_TRUE(absl::IsCancelled(stopped));
  EXPECT_EQ(stopped.message(), "stopped by SIGTERM after update 3");
  EXPECT_EQ(stopping_signal(stopped), SIGTERM);
  EXPECT_EQ(stopping_signal(stopped_by_signal(SIGINT, "")), SIGINT);
  EXPECT_EQ(stopping_signal(absl::CancelledError("stopped by SIGTERM")), 0);
  EXPECT_EQ(stopping_signal(absl::OkStatus()), 0);
  EXPECT_EQ(signal_name(SIGINT), "SIGINT (Ctrl-C)");
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
}

}  // namespace
}  // namespace bitgrad
