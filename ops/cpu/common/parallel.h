// When the hand-written CPU kernels (ops/cpu/norm, ops/cpu/optim) spread a loop over the OpenMP
// threads.
#pragma once

#include <cstdint>

namespace bitgrad::cpu {

// Below this many elements one thread does all the work: waking the thread pool costs more.
inline constexpr int64_t kParallelMinElements = 1 << 15;

}  // namespace bitgrad::cpu
