// Which vector instruction set the hand-written CPU kernels (ops/cpu/*/*_kernel.cc) run with.
//
// The build targets the baseline x86-64 ISA (SSE2), so a binary runs on any x86-64 CPU. Hot
// loops are compiled twice: once for the baseline and once for AVX2+FMA through a function
// attribute (BG_TARGET_AVX2_FMA). The AVX2 copy runs only when the CPU reports both features,
// so an older CPU takes the portable path instead of dying with SIGILL.
#pragma once

namespace bitgrad::cpu {

enum class CpuIsa { kPortable, kAvx2Fma };
const char* cpu_isa_name(CpuIsa isa);  // "portable", "avx2+fma"

// The best ISA this CPU supports, lowered by the DNNL_MAX_CPU_ISA environment variable (the one
// knob that caps oneDNN and these kernels alike: SSE41 or AVX run the portable path, AVX2 and up
// allow AVX2+FMA) and by an active ScopedCpuIsaCap.
CpuIsa active_cpu_isa();

// The cap DNNL_MAX_CPU_ISA sets on these kernels, from its value as oneDNN spells it (any case):
// kPortable for SSE41 and AVX, kAvx2Fma for AVX2, the AVX-512 names, AMX and ALL, and for an
// empty value (no cap). Throws an Error naming the variable for any other value.
CpuIsa cpu_isa_cap_from_env(const char* value);

// Lowers the ISA the kernels use, process-wide, while in scope: tests run both paths, and
// benchmarks compare them. Not for concurrent use from several threads.
class ScopedCpuIsaCap {
 public:
  explicit ScopedCpuIsaCap(CpuIsa cap);
  ~ScopedCpuIsaCap();
  ScopedCpuIsaCap(const ScopedCpuIsaCap&) = delete;
  ScopedCpuIsaCap& operator=(const ScopedCpuIsaCap&) = delete;

 private:
  CpuIsa previous_;
};

}  // namespace bitgrad::cpu

// BG_TARGET_AVX2_FMA compiles one function for AVX2+FMA. Helpers it calls must be inlined into
// it (BG_ALWAYS_INLINE) so that their loops are vectorized for AVX2 too.
#if defined(__x86_64__) && defined(__GNUC__)
#define BG_HAVE_AVX2_CLONES 1
#define BG_TARGET_AVX2_FMA __attribute__((target("avx2,fma")))
#else
#define BG_HAVE_AVX2_CLONES 0
#define BG_TARGET_AVX2_FMA
#endif
#define BG_ALWAYS_INLINE inline __attribute__((always_inline))
#define BG_INLINE_LAMBDA __attribute__((always_inline))  // [&](int i) BG_INLINE_LAMBDA {...}

namespace bitgrad::cpu {

// A hot function compiled for both ISAs: kFn (BG_ALWAYS_INLINE, so that it is compiled into
// each copy) called from a baseline copy and from an AVX2+FMA one.
//   auto row = for_active_isa<&fwd_row<float>>();  // the copy active_cpu_isa() allows
template <auto kFn, typename Signature = decltype(kFn)>
struct IsaCopies;

template <auto kFn, typename R, typename... Args>
struct IsaCopies<kFn, R (*)(Args...)> {
  static R portable(Args... args) { return kFn(args...); }
  BG_TARGET_AVX2_FMA static R avx2_fma(Args... args) { return kFn(args...); }
};

template <auto kFn>
auto for_active_isa() {
  using Copies = IsaCopies<kFn>;
  return active_cpu_isa() == CpuIsa::kAvx2Fma ? &Copies::avx2_fma : &Copies::portable;
}

}  // namespace bitgrad::cpu
