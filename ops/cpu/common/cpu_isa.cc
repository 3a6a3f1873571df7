#include "ops/cpu/common/cpu_isa.h"

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <string>

#include "core/check.h"

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

// What this CPU supports, capped by DNNL_MAX_CPU_ISA.
CpuIsa allowed_cpu_isa() {
  const CpuIsa detected = detected_cpu_isa();
  const CpuIsa env_cap = cpu_isa_cap_from_env(std::getenv("DNNL_MAX_CPU_ISA"));
  return static_cast<int>(env_cap) < static_cast<int>(detected) ? env_cap : detected;
}

}  // namespace

CpuIsa cpu_isa_cap_from_env(const char* value) {
  std::string isa = value == nullptr ? "" : value;
  for (char& c : isa) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (isa.empty() || isa == "ALL" || isa.rfind("AVX2", 0) == 0 || isa.rfind("AVX512", 0) == 0 ||
      isa.rfind("AMX", 0) == 0) {
    return CpuIsa::kAvx2Fma;
  }
  BG_CHECK(isa == "SSE41" || isa == "AVX", "DNNL_MAX_CPU_ISA=", value,
           ": expected one of oneDNN's ISA names (SSE41, AVX, AVX2, AVX2_VNNI, AVX512_CORE, "
           "AVX512_CORE_VNNI, AVX512_CORE_BF16, AVX512_CORE_AMX, ALL)");
  return CpuIsa::kPortable;
}

const char* cpu_isa_name(CpuIsa isa) { return isa == CpuIsa::kAvx2Fma ? "avx2+fma" : "portable"; }

CpuIsa active_cpu_isa() {
  static const CpuIsa allowed = allowed_cpu_isa();
  CpuIsa cap = isa_cap.load(std::memory_order_relaxed);
  return static_cast<int>(cap) < static_cast<int>(allowed) ? cap : allowed;
}

ScopedCpuIsaCap::ScopedCpuIsaCap(CpuIsa cap) : previous_(isa_cap.exchange(cap)) {}

ScopedCpuIsaCap::~ScopedCpuIsaCap() { isa_cap.store(previous_); }

}  // namespace bitgrad::cpu
