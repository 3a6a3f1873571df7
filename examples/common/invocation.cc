#include "examples/common/invocation.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "core/check.h"
#include "train/stop_signals.h"

namespace bitgrad {

void run_from_invocation_directory() {
  const char* directory = std::getenv("BUILD_WORKING_DIRECTORY");
  if (directory == nullptr || *directory == '\0') return;
  if (chdir(directory) != 0) {
    std::cerr << "warning: cannot change to the invocation directory " << directory << ": "
              << std::strerror(errno) << "; relative paths are relative to the runfiles tree\n";
  }
}

int run_program(int argc, char** argv, const char* usage,
                const std::function<absl::Status()>& run) {
  // Past a file-size limit (ulimit -f) a write fails with EFBIG, which the writers report and
  // undo, instead of the signal that kills the process with a temporary file left behind.
  std::signal(SIGXFSZ, SIG_IGN);
  absl::SetProgramUsageMessage(usage);
  run_from_invocation_directory();  // first, so that a relative --flagfile is found too
  absl::ParseCommandLine(argc, argv);
  absl::Status status;
  try {
    status = run();
  } catch (const std::bad_alloc&) {
    status = absl::ResourceExhaustedError("out of memory");
  } catch (const std::exception& error) {  // bitgrad::Error and the standard library's
    status = absl::InternalError(error.what());
  }
  if (status.ok()) return 0;
  const std::string line = absl::StrCat("error: ", status.message(), "\n");  // one write
  std::cerr.write(line.data(), static_cast<std::streamsize>(line.size()));
  if (const int signal = stopping_signal(status); signal != 0) {
    // End by the signal that stopped the run, so that the shell knows (a loop stops at Ctrl-C).
    std::cerr.flush();
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
  return 1;
}

}  // namespace bitgrad
