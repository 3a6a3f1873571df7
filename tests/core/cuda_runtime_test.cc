// The CUDA device runtime (core/cuda): copies, factories and dispatch on CUDA tensors, and the
// errors a program gets without a GPU. GPU cases skip on machines without one; the NoGpu and
// CudaCheck cases run everywhere.
#include <cstdint>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_device.h"
#include "core/cuda/cuda_memory.h"
#include "core/dispatch.h"
#include "core/storage.h"
#include "core/tensor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gpu.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::throws_error;

// A slot with only a reference kernel, so "no CUDA kernel" stays testable whatever kernels the
// real ops gain later.
BG_KERNEL_SLOT(RefOnlyTestFwd, Tensor(const Tensor& x));
Tensor ref_only_test_fwd_ref(const Tensor& x) { return x.clone(); }
BG_REGISTER_KERNEL(RefOnlyTestFwd, kRef, ref_only_test_fwd_ref);

// Distinct, non-round values, so a copy that drops or shifts elements shows up.
template <typename T>
std::vector<T> pattern(int64_t n) {
  std::vector<T> values(n);
  for (int64_t i = 0; i < n; ++i) values[i] = static_cast<T>((i * 37 % 101) - 50) / T(3);
  return values;
}
template <>
std::vector<int64_t> pattern<int64_t>(int64_t n) {
  std::vector<int64_t> values(n);
  for (int64_t i = 0; i < n; ++i) values[i] = (i * 2654435761LL) ^ (int64_t{1} << 40);
  return values;
}

template <typename T>
void expect_round_trip(int64_t n) {
  std::vector<T> values = pattern<T>(n);
  Tensor host = from_vector(values, {n});
  Tensor device = host.to(Device::cuda());
  EXPECT_EQ(device.device(), Device::cuda());
  EXPECT_EQ(device.shape(), Shape({n}));
  EXPECT_EQ(device.dtype(), dtype_of<T>());
  Tensor back = device.to(Device::cpu());
  EXPECT_TRUE(back.device().is_cpu());
  EXPECT_EQ(back.to_vector<T>(), values) << dtype_name(dtype_of<T>()) << ", " << n << " elements";
}

TEST(CudaCheckTest, ThrowsErrorNamingTheCallAndTheCudaError) {
  // cudaGetErrorName/String work without a driver, so this runs everywhere.
  EXPECT_TRUE(throws_error([] { CUDA_CHECK(cudaErrorMemoryAllocation); },
                           {"CUDA call cudaErrorMemoryAllocation failed",
                            "cudaErrorMemoryAllocation (out of memory)", "cuda_runtime_test.cc:"}));
  EXPECT_NO_THROW(CUDA_CHECK(cudaSuccess));
}

TEST(CudaNoGpuTest, MovingToCudaThrowsAClearError) {
  if (cuda_available()) GTEST_SKIP() << "this machine has a GPU; the GPU tests cover it";
  std::string why_not;
  EXPECT_FALSE(cuda_available(&why_not));
  EXPECT_EQ(cuda_device_count(), 0);
  EXPECT_NE(why_not.find("no usable CUDA device"), std::string::npos) << why_not;

  Tensor x = ones({2, 3});
  EXPECT_TRUE(throws_error([&] { x.to(Device::cuda()); }, {"cuda:0", "no usable CUDA device"}));
  EXPECT_TRUE(throws_error([&] { x.to(Device::cuda()); }, {why_not}));
  EXPECT_TRUE(throws_error([] { zeros({0}, DType::kFloat32, Device::cuda()); }, {"CUDA"}));
  EXPECT_TRUE(throws_error([] { set_current_cuda_device(0); }, {"no usable CUDA device"}));
  EXPECT_THAT(std::string(check_device_flag("cuda").message()),
              ::testing::HasSubstr("--device=cuda: this machine has no usable GPU (" + why_not));
  // The CPU side is unaffected by the failed attempts.
  EXPECT_TRUE(all_close(x + x, full({2, 3}, 2.0)));
}

TEST(CudaRuntimeTest, RoundTripsEveryDtypeAndSize) {
  BG_REQUIRE_GPU();
  for (int64_t n : {0, 1, 7, 1023, 100003}) {
    expect_round_trip<float>(n);
    expect_round_trip<double>(n);
    expect_round_trip<int64_t>(n);
  }
}

TEST(CudaRuntimeTest, RoundTripKeepsShapeOfZeroElementTensors) {
  BG_REQUIRE_GPU();
  Tensor empty_batch = zeros({0, 3, 5}, DType::kFloat32, Device::cuda());
  EXPECT_EQ(empty_batch.shape(), Shape({0, 3, 5}));
  EXPECT_EQ(empty_batch.to(Device::cpu()).shape(), Shape({0, 3, 5}));
  EXPECT_TRUE(empty_batch.to_vector<float>().empty());
}

TEST(CudaRuntimeTest, FactoriesOnCuda) {
  BG_REQUIRE_GPU();
  // Leave a dirty block of the same size in the cache, so zeros() must really clear memory.
  { Tensor dirty = full({3, 5}, 7.0, DType::kFloat32, Device::cuda()); }
  Tensor z = zeros({3, 5}, DType::kFloat32, Device::cuda());
  EXPECT_EQ(z.device(), Device::cuda());
  EXPECT_EQ(z.to_vector<float>(), std::vector<float>(15, 0.0f));
  EXPECT_EQ(ones({4}, DType::kFloat64, Device::cuda()).to_vector<double>(),
            std::vector<double>(4, 1.0));
  EXPECT_EQ(full({2, 2}, -2.5, DType::kFloat32, Device::cuda()).to_vector<float>(),
            std::vector<float>(4, -2.5f));
  EXPECT_EQ(full({3}, 42, DType::kInt64, Device::cuda()).to_vector<int64_t>(),
            std::vector<int64_t>(3, 42));
  EXPECT_EQ(scalar_tensor(3.0, DType::kFloat64, Device::cuda()).item<double>(), 3.0);
}

TEST(CudaRuntimeTest, CloneIsADeepCopyOnTheSameDevice) {
  BG_REQUIRE_GPU();
  std::vector<float> values = pattern<float>(513);
  Tensor original = from_vector(values, {513}, Device::cuda());
  Tensor copy = original.clone();
  EXPECT_EQ(copy.device(), Device::cuda());
  EXPECT_NE(copy.raw_data(), original.raw_data());
  original.fill_(0.0);  // must not reach the clone
  EXPECT_EQ(copy.to_vector<float>(), values);
  EXPECT_EQ(original.to_vector<float>(), std::vector<float>(513, 0.0f));
}

TEST(CudaRuntimeTest, CopyAndDtypeConversionStayOnTheDevice) {
  BG_REQUIRE_GPU();
  Tensor x = from_vector<float>({1.5f, -2.0f, 3.25f}, {3}, Device::cuda());
  Tensor as_double = x.to(DType::kFloat64);
  EXPECT_EQ(as_double.device(), Device::cuda());
  EXPECT_EQ(as_double.to_vector<double>(), (std::vector<double>{1.5, -2.0, 3.25}));
  Tensor target = zeros({3}, DType::kFloat32, Device::cuda());
  target.copy_(from_vector<double>({4, 5, 6}, {3}));  // host float64 -> device float32
  EXPECT_EQ(target.to_vector<float>(), (std::vector<float>{4, 5, 6}));
}

TEST(CudaRuntimeTest, MixedDevicesNameTheOpAndBothDevices) {
  BG_REQUIRE_GPU();
  Tensor on_cpu = ones({2, 3});
  Tensor on_gpu = ones({2, 3}, DType::kFloat32, Device::cuda());
  EXPECT_TRUE(throws_error([&] { add(on_cpu, on_gpu); }, {"add", "cpu", "cuda:0", "(2, 3)"}));
  // The dispatcher checks too, for kernels called without an op around them.
  EXPECT_TRUE(throws_error([&] { call<BinaryFwd>(on_cpu, on_gpu, BinaryOp::kAdd); },
                           {"BinaryFwd", "cpu", "cuda:0"}));
}

// A gradient lives where its tensor does: the optimizer's kernel reads both in one call.
TEST(CudaRuntimeTest, AGradientOnAnotherDeviceIsRefused) {
  BG_REQUIRE_GPU();
  Tensor w = ones({2, 3}, DType::kFloat32, Device::cuda()).set_requires_grad();
  EXPECT_TRUE(throws_error([&] { w.set_grad(zeros({2, 3})); },
                           {"set_grad: a gradient on cpu", "(2, 3) on cuda:0"}));
  w.set_grad(zeros({2, 3}, DType::kFloat32, Device::cuda()));
  EXPECT_TRUE(w.grad().device().is_cuda());
}

TEST(CudaRuntimeTest, OpWithoutCudaKernelSaysSoInsteadOfCopying) {
  BG_REQUIRE_GPU();
  Tensor on_gpu = ones({4}, DType::kFloat32, Device::cuda());
  EXPECT_TRUE(throws_error([&] { call<RefOnlyTestFwd>(on_gpu); },
                           {"RefOnlyTestFwd has no CUDA kernel", "registered: ref"}));
}

TEST(CudaRuntimeTest, MissingDeviceIndexIsAnError) {
  BG_REQUIRE_GPU();
  int missing = cuda_device_count();
  EXPECT_TRUE(throws_error([&] { ones({2}).to(Device::cuda(missing)); },
                           {"cuda:" + std::to_string(missing), "does not exist"}));
}

TEST(CudaRuntimeTest, FreedMemoryIsCachedUntilEmptied) {
  BG_REQUIRE_GPU();
  cuda_empty_cache();
  CudaMemoryStats before = cuda_memory_stats();
  const void* first_address;
  {
    Tensor t = empty({1 << 20}, DType::kFloat32, Device::cuda());
    first_address = t.raw_data();
    EXPECT_GE(cuda_memory_stats().bytes_in_use, before.bytes_in_use + (4u << 20));
  }
  EXPECT_EQ(cuda_memory_stats().bytes_in_use, before.bytes_in_use);
  EXPECT_GE(cuda_memory_stats().bytes_cached, 4u << 20);
  Tensor again = empty({1 << 20}, DType::kFloat32, Device::cuda());
  EXPECT_EQ(again.raw_data(), first_address);  // the same block, reused
  again = Tensor();
  cuda_empty_cache();
  EXPECT_EQ(cuda_memory_stats().bytes_cached, 0u);
}

TEST(CudaRuntimeTest, SteadyStateCallsNoCudaMalloc) {
  BG_REQUIRE_GPU();
  auto step = [] {
    Tensor a = empty({3, 1000, 1000}, DType::kFloat32, Device::cuda());
    Tensor b = empty({777}, DType::kFloat32, Device::cuda());
  };
  step();
  size_t after_first = cuda_memory_stats().driver_allocations;
  for (int i = 0; i < 5; ++i) step();
  EXPECT_EQ(cuda_memory_stats().driver_allocations, after_first);
}

TEST(CudaRuntimeTest, HostToDeviceCopiesAreStagedSoTheSourceCanGoAtOnce) {
  BG_REQUIRE_GPU();
  std::vector<Tensor> on_gpu;
  std::vector<std::vector<float>> expected;
  for (int i = 0; i < 20; ++i) {  // many queued copies, each host tensor freed right away
    std::vector<float> values = pattern<float>(100000 + i);
    values[0] = static_cast<float>(i);
    expected.push_back(values);
    on_gpu.push_back(from_vector(values, {100000 + i}).to(Device::cuda()));
  }
  for (int i = 0; i < 20; ++i) EXPECT_EQ(on_gpu[i].to_vector<float>(), expected[i]) << i;
}

}  // namespace
}  // namespace bitgrad
