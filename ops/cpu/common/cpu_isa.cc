#include "ops/cpu/common/cpu_isa.h"

#include <atomic>

namespace bitgrad::cpu {
namespace {

CpuIsa detected_cpu_isa() {
#if BG_HAVE_AVX2_CLONES
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CpuIsa::kAvx2Fma;
#endif
  return CpuIsa::kPortable;
}

std::atomic<CpuIsa> isa_cap{CpuIsa::kAvx2Fma};

}  // namespace

const char* cpu_isa_name(CpuIsa isa) { return isa == CpuIsa::kAvx2Fma ? "avx2+fma" : "portable"; }

CpuIsa active_cpu_isa() {
  static const CpuIsa detected = detected_cpu_isa();
  CpuIsa cap = isa_cap.load(std::memory_order_relaxed);
  return static_cast<int>(cap) < static_cast<int>(detected) ? cap : detected;
}

ScopedCpuIsaCap::ScopedCpuIsaCap(CpuIsa cap) : previous_(isa_cap.exchange(cap)) {}

ScopedCpuIsaCap::~ScopedCpuIsaCap() { isa_cap.store(previous_); }

}  // namespace bitgrad::cpu
