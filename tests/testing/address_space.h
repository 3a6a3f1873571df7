// Address-space limits (RLIMIT_AS) for tests of what running out of memory does. Set them in a
// child process (a death test), never in the test binary itself.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <cstddef>
#include <fstream>

namespace bitgrad::testing {

// False under AddressSanitizer, whose allocator and shadow memory need far more address space
// than the program itself.
constexpr bool address_space_limits_work() {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return false;
#else
  return true;
#endif
#else
  return true;
#endif
}

// Limits this process's address space to what it uses now plus `room` bytes; false if it cannot.
inline bool limit_address_space_to_current_plus(size_t room) {
  size_t pages = 0;
  std::ifstream("/proc/self/statm") >> pages;  // the address space in use, in pages
  const rlim_t limit = static_cast<rlim_t>(pages) * sysconf(_SC_PAGESIZE) + room;
  const rlimit both{limit, limit};
  return pages > 0 && setrlimit(RLIMIT_AS, &both) == 0;
}

}  // namespace bitgrad::testing
