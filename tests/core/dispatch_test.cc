#include "core/dispatch.h"

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::throws_error;

// Slots private to this test, with kernels that report which backend ran.
BG_KERNEL_SLOT(TestWhichBackend, std::string(const Tensor& x));
BG_KERNEL_SLOT(TestRefOnly, std::string(const Tensor& x));
BG_KERNEL_SLOT(TestTwoInputs, int(const Tensor& a, const std::vector<Tensor>& rest));

std::string ref_kernel(const Tensor&) { return "ref"; }
std::string cpu_kernel(const Tensor&) { return "cpu"; }
int count_kernel(const Tensor&, const std::vector<Tensor>& rest) { return 1 + rest.size(); }

BG_REGISTER_KERNEL(TestWhichBackend, kRef, ref_kernel);
BG_REGISTER_KERNEL(TestWhichBackend, kCpu, cpu_kernel);
BG_REGISTER_KERNEL(TestRefOnly, kRef, ref_kernel);
BG_REGISTER_KERNEL(TestTwoInputs, kRef, count_kernel);

TEST(DispatchTest, CpuTensorsPreferTheCpuKernel) {
  EXPECT_EQ(call<TestWhichBackend>(zeros({1})), "cpu");
}

TEST(DispatchTest, FallsBackToReferenceWhenNoCpuKernel) {
  EXPECT_EQ(call<TestRefOnly>(zeros({1})), "ref");
}

// As for a slot whose kernel libraries were not linked.
TEST(DispatchTest, ASlotWithoutKernelsSaysWhichLibrariesToLink) {
  EXPECT_TRUE(throws_error(
      [] { detail::select_backend("TestNoKernels", Device::cpu(), {}); },
      {"TestNoKernels has no CPU kernel (registered: none)", "//:bitgrad", "alwayslink = True"}));
}

TEST(DispatchTest, OverrideForcesTheReferenceKernelAndNests) {
  {
    BackendOverride outer(Backend::kRef);
    EXPECT_EQ(call<TestWhichBackend>(zeros({1})), "ref");
    {
      BackendOverride inner(Backend::kCpu);
      EXPECT_EQ(call<TestWhichBackend>(zeros({1})), "cpu");
    }
    EXPECT_EQ(call<TestWhichBackend>(zeros({1})), "ref");
  }
  EXPECT_EQ(call<TestWhichBackend>(zeros({1})), "cpu");
  BackendOverride cpu_only(Backend::kCpu);
  EXPECT_TRUE(throws_error([] { call<TestRefOnly>(zeros({1})); },
                           {"TestRefOnly", "no cpu kernel", "registered: ref"}));
}

TEST(DispatchTest, VectorArgumentsTakePartAndUndefinedTensorsAreSkipped) {
  EXPECT_EQ(call<TestTwoInputs>(zeros({1}), std::vector<Tensor>{zeros({2}), Tensor()}), 3);
}

TEST(DispatchTest, DuplicateRegistrationIsAnError) {
  EXPECT_TRUE(throws_error(
      [] {
        TestRefOnly::register_kernel(Backend::kRef, ref_kernel, LayoutSupport::kPlainOnly,
                                     "myops/second.cc");
      },
      {"two ref kernels", "TestRefOnly", "tests/core/dispatch_test.cc and myops/second.cc"}));
}

TEST(DispatchTest, RegistryDumpListsSlotsAndBackends) {
  std::string dump = registry_dump();
  EXPECT_NE(dump.find("TestWhichBackend"), std::string::npos);
  EXPECT_NE(dump.find("Conv2dFwd"), std::string::npos);
  // A slot's row names the backends it has and marks the others "-".
  std::map<std::string, std::vector<std::string>> rows;
  std::istringstream lines(dump);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string slot, word;
    words >> slot;
    while (words >> word) rows[slot].push_back(word);
  }
  EXPECT_EQ(rows["TestWhichBackend"], (std::vector<std::string>{"ref", "cpu", "-"}));
  EXPECT_EQ(rows["TestRefOnly"], (std::vector<std::string>{"ref", "-", "-"}));
}

TEST(DispatchTest, EveryDeclaredSlotHasAReferenceKernel) {
  std::vector<std::string> missing = slots_missing_reference_kernel();
  std::string names;
  for (const std::string& name : missing) names += name + " ";
  EXPECT_TRUE(missing.empty()) << "slots without a reference kernel: " << names;
}

// A layout that stores a 1-D tensor reversed, to check that plain-only kernels see plain data.
class ReversedLayout final : public OpaqueLayout {
 public:
  explicit ReversedLayout(int64_t n) : n_(n) {}
  std::string name() const override { return "test:reversed"; }
  size_t nbytes() const override { return n_ * sizeof(float); }
  void to_plain(const void* src, void* dst) const override {
    for (int64_t i = 0; i < n_; ++i) {
      static_cast<float*>(dst)[i] = static_cast<const float*>(src)[n_ - 1 - i];
    }
  }
  bool same_as(const OpaqueLayout& other) const override { return other.name() == name(); }

 private:
  int64_t n_;
};

BG_KERNEL_SLOT(TestFirstElement, float(const Tensor& x));
float first_element(const Tensor& x) { return x.data<float>()[0]; }
BG_REGISTER_KERNEL(TestFirstElement, kRef, first_element);

TEST(DispatchTest, PlainOnlyKernelsReceivePlainTensors) {
  Tensor stored = from_vector<float>({3, 2, 1}, {3});  // the physical order
  auto impl = std::make_shared<TensorImpl>(*stored.impl());
  impl->layout = std::make_shared<ReversedLayout>(3);
  Tensor opaque(impl);
  EXPECT_FALSE(opaque.is_plain());
  EXPECT_EQ(call<TestFirstElement>(opaque), 1.0f);
  EXPECT_EQ(opaque.to_vector<float>(), std::vector<float>({1, 2, 3}));
  EXPECT_NE(opaque.str().find("layout=test:reversed"), std::string::npos);
}

}  // namespace
}  // namespace bitgrad
