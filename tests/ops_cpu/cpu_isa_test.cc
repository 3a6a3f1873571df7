// The ISA the hand-written kernels run with, and the DNNL_MAX_CPU_ISA cap they share with oneDNN.
#include "ops/cpu/common/cpu_isa.h"

#include "gtest/gtest.h"
#include "tests/testing/assertions.h"

namespace bitgrad::cpu {
namespace {

TEST(CpuIsaTest, DnnlMaxCpuIsaCapsTheKernelsAsItCapsOnednn) {
  EXPECT_EQ(cpu_isa_cap_from_env(nullptr), CpuIsa::kAvx2Fma);  // unset: no cap
  EXPECT_EQ(cpu_isa_cap_from_env(""), CpuIsa::kAvx2Fma);
  for (const char* at_least_avx2 : {"AVX2", "avx2_vnni", "AVX512_CORE", "avx512_core_amx", "ALL"}) {
    EXPECT_EQ(cpu_isa_cap_from_env(at_least_avx2), CpuIsa::kAvx2Fma) << at_least_avx2;
  }
  EXPECT_EQ(cpu_isa_cap_from_env("SSE41"), CpuIsa::kPortable);
  EXPECT_EQ(cpu_isa_cap_from_env("avx"), CpuIsa::kPortable);
}

TEST(CpuIsaTest, AnUnknownCapIsAnErrorNamingTheVariable) {
  EXPECT_TRUE(testing::throws_error([] { cpu_isa_cap_from_env("AVX3"); },
                                    {"DNNL_MAX_CPU_ISA=AVX3", "SSE41", "AVX512_CORE"}));
}

TEST(CpuIsaTest, ScopedCapLowersTheActiveIsaAndRestoresIt) {
  const CpuIsa best = active_cpu_isa();
  {
    ScopedCpuIsaCap cap(CpuIsa::kPortable);
    EXPECT_EQ(active_cpu_isa(), CpuIsa::kPortable);
  }
  EXPECT_EQ(active_cpu_isa(), best);
}

BG_ALWAYS_INLINE int twice(int x) { return 2 * x; }

TEST(CpuIsaTest, ForActiveIsaPicksTheCopyTheActiveIsaAllows) {
  using Copies = IsaCopies<&twice>;
  {
    ScopedCpuIsaCap cap(CpuIsa::kPortable);
    EXPECT_EQ(for_active_isa<&twice>(), &Copies::portable);
  }
  const auto expected =
      active_cpu_isa() == CpuIsa::kAvx2Fma ? &Copies::avx2_fma : &Copies::portable;
  EXPECT_EQ(for_active_isa<&twice>(), expected);
  EXPECT_EQ(Copies::portable(21), 42);
  if (active_cpu_isa() == CpuIsa::kAvx2Fma) {
    EXPECT_EQ(Copies::avx2_fma(21), 42);
  }
}

}  // namespace
}  // namespace bitgrad::cpu
