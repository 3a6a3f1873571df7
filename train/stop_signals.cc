#include "train/stop_signals.h"

#include <atomic>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace bitgrad {
namespace {

constexpr absl::string_view kSignalPayload = "bitgrad/stopping_signal";

// Lock-free, so safe to set from a signal handler and read on another thread.
std::atomic<int> received_signal{0};
struct sigaction previous_int = {}, previous_term = {}, previous_pipe = {};
bool installed_int = false, installed_term = false, ignoring_pipe = false;

void restore_previous_handlers() {
  if (installed_int) ::sigaction(SIGINT, &previous_int, nullptr);
  if (installed_term) ::sigaction(SIGTERM, &previous_term, nullptr);
}

extern "C" void note_signal(int signal) {
  received_signal.store(signal);
  restore_previous_handlers();  // async-signal-safe: sigaction is
}

// Installs note_signal for `signal` unless the process ignores it; true when installed.
bool install(int signal, struct sigaction* previous) {
  if (::sigaction(signal, nullptr, previous) != 0 || previous->sa_handler == SIG_IGN) {
    return false;
  }
  struct sigaction action = {};
  action.sa_handler = &note_signal;
  action.sa_flags = SA_RESTART;  // a write to a pipe is not cut short by EINTR
  sigemptyset(&action.sa_mask);
  return ::sigaction(signal, &action, nullptr) == 0;
}

}  // namespace

StopOnSignals::StopOnSignals() {
  received_signal.store(0);
  installed_int = install(SIGINT, &previous_int);
  installed_term = install(SIGTERM, &previous_term);
  // `bit_finetune | tee log`: Ctrl-C ends tee too, and the next progress line would kill the run
  // by SIGPIPE before its checkpoint. Ignored, the write fails instead, and the run goes on.
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ignoring_pipe = ::sigaction(SIGPIPE, &ignore, &previous_pipe) == 0;
}

StopOnSignals::~StopOnSignals() {
  restore_previous_handlers();
  if (ignoring_pipe) ::sigaction(SIGPIPE, &previous_pipe, nullptr);
  installed_int = installed_term = ignoring_pipe = false;
}

int StopOnSignals::received() const { return received_signal.load(); }

std::string signal_name(int signal) {
  return signal == SIGINT ? "SIGINT (Ctrl-C)" : signal == SIGTERM ? "SIGTERM"
                                                                  : absl::StrCat("signal ", signal);
}

absl::Status stopped_by_signal(int signal, const std::string& message) {
  absl::Status status = absl::CancelledError(message);
  status.SetPayload(kSignalPayload, absl::Cord(absl::StrCat(signal)));
  return status;
}

int stopping_signal(const absl::Status& status) {
  const auto payload = status.GetPayload(kSignalPayload);  // an absl::optional<absl::Cord>
  int signal = 0;
  return payload && absl::SimpleAtoi(std::string(*payload), &signal) ? signal : 0;
}

}  // namespace bitgrad
