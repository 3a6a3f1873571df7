#include "examples/common/invocation.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

namespace bitgrad {

void run_from_invocation_directory() {
  const char* directory = std::getenv("BUILD_WORKING_DIRECTORY");
  if (directory == nullptr || *directory == '\0') return;
  if (chdir(directory) != 0) {
    std::cerr << "warning: cannot change to the invocation directory " << directory << ": "
              << std::strerror(errno) << "; relative paths are relative to the runfiles tree\n";
  }
}

}  // namespace bitgrad
