#include "core/tensor.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "core/random.h"
#include "ops/reshape.h"
#include "gtest/gtest.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::throws_error;

TEST(TensorTest, FactoriesSetShapeDtypeDeviceAndValues) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.shape(), Shape({2, 3}));
  EXPECT_EQ(z.dtype(), DType::kFloat32);
  EXPECT_TRUE(z.device().is_cpu());
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.nbytes(), 24u);
  for (float v : z.to_vector<float>()) EXPECT_EQ(v, 0.0f);

  Tensor f = full({4}, 2.5, DType::kFloat64);
  for (double v : f.to_vector<double>()) EXPECT_EQ(v, 2.5);
  EXPECT_EQ(ones({3}, DType::kInt64).to_vector<int64_t>(), std::vector<int64_t>({1, 1, 1}));
  EXPECT_EQ(scalar_tensor(7.0).dim(), 0);
  EXPECT_EQ(scalar_tensor(7.0).item<float>(), 7.0f);
}

TEST(TensorTest, ElementAccessIsRowMajorAndBoundsChecked) {
  Tensor t = from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  EXPECT_EQ(t.at<float>({1, 2}), 5.0f);
  EXPECT_EQ(t.at<float>({0, 1}), 1.0f);
  t.at<float>({1, 0}) = 9.0f;
  EXPECT_EQ(t.to_vector<float>()[3], 9.0f);
  EXPECT_TRUE(throws_error([&] { t.at<float>({2, 0}); }, {"index 2", "(2, 3)"}));
  EXPECT_TRUE(throws_error([&] { t.at<float>({0}); }, {"1 indices", "(2, 3)"}));
  EXPECT_TRUE(throws_error([&] { t.at<double>({0, 0}); }, {"float32", "float64"}));
  // What a float32-only kernel handed float64 says: the shape helps find which tensor it was.
  EXPECT_TRUE(throws_error([&] { t.data<double>(); }, {"(2, 3)", "float32", "as float64"}));
}

TEST(TensorTest, ViewSharesMemoryAndDetachDropsHistory) {
  Tensor t = from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor v = t.view({3, 2});
  v.at<float>({2, 1}) = 42.0f;
  EXPECT_EQ(t.at<float>({1, 2}), 42.0f);
  EXPECT_EQ(t.storage_use_count(), 2);
  EXPECT_TRUE(throws_error([&] { t.view({4}); }, {"view", "(2, 3)", "(4)"}));

  Tensor c = t.clone();
  c.at<float>({0, 0}) = -1.0f;
  EXPECT_EQ(t.at<float>({0, 0}), 0.0f);
}

TEST(TensorTest, DtypeConversionRoundTrips) {
  Tensor t = from_vector<double>({1.5, -2.25, 3e6, 0.0}, {4});
  EXPECT_EQ(t.to(DType::kFloat32).to_vector<float>(),
            std::vector<float>({1.5f, -2.25f, 3e6f, 0.0f}));
  EXPECT_EQ(t.to(DType::kInt64).to_vector<int64_t>(), std::vector<int64_t>({1, -2, 3000000, 0}));
  // bf16 keeps 8 bits of mantissa: 1.5 and -2.25 are exact, 3e6 rounds.
  std::vector<double> bf16 = t.to(DType::kBFloat16).to_vector<double>();
  EXPECT_EQ(bf16[0], 1.5);
  EXPECT_EQ(bf16[1], -2.25);
  EXPECT_NEAR(bf16[2], 3e6, 3e6 / 128);
  std::vector<double> fp16 = from_vector<double>({1.0 / 3, 65504, 1e-7, -0.0}, {4})
                                 .to(DType::kFloat16)
                                 .to_vector<double>();
  EXPECT_NEAR(fp16[0], 1.0 / 3, 1e-3);
  EXPECT_EQ(fp16[1], 65504);
  EXPECT_NEAR(fp16[2], 1.19209e-7, 1e-10);  // nearest subnormal: 2 * 2^-24
  EXPECT_TRUE(std::signbit(fp16[3]));
}

// A C++ cast of an out-of-range double to an integer is undefined behaviour; the conversion
// saturates instead, gives 0 for NaN, and truncates toward zero in range.
TEST(TensorTest, IntegerConversionSaturatesAndMapsNaNToZero) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  const Tensor t = from_vector<double>({-2, 300, kNaN, 3.9, -0.5, 1e30, -1e30}, {7});
  EXPECT_EQ(t.to(DType::kUInt8).to_vector<int64_t>(),
            std::vector<int64_t>({0, 255, 0, 3, 0, 255, 0}));
  EXPECT_EQ(t.to(DType::kInt64).to_vector<int64_t>(),
            std::vector<int64_t>({-2, 300, 0, 3, 0, std::numeric_limits<int64_t>::max(),
                                  std::numeric_limits<int64_t>::min()}));
  const Tensor f = from_vector<float>({-1.0f, std::numeric_limits<float>::infinity()}, {2});
  EXPECT_EQ(f.to(DType::kUInt8).to_vector<int64_t>(), std::vector<int64_t>({0, 255}));
}

TEST(TensorTest, Float16RoundsToNearestEvenAndOverflowsToInfinity) {
  EXPECT_EQ(static_cast<float>(Float16(1.0f + 1.0f / 2048)), 1.0f);  // tie -> even
  EXPECT_EQ(static_cast<float>(Float16(1.0f + 3.0f / 2048)), 1.0f + 2.0f / 1024);
  EXPECT_TRUE(std::isinf(static_cast<float>(Float16(65520.0f))));
  EXPECT_TRUE(std::isnan(static_cast<float>(Float16(NAN))));
  EXPECT_EQ(static_cast<float>(BFloat16(1.0f + 1.0f / 256)), 1.0f);  // tie -> even
}

// bf16 keeps 7 mantissa bits, so 1 + 3/256 lies halfway between 1 + 2/256 (odd last bit) and
// 1 + 4/256 (even): a tie rounds to even, here up. Any NaN stays NaN, even one whose payload
// would carry into the sign bit if it were rounded like a number.
TEST(TensorTest, BFloat16RoundsTiesToEvenAndKeepsNaN) {
  EXPECT_EQ(static_cast<float>(BFloat16(1.0f + 3.0f / 256)), 1.0f + 4.0f / 256);
  EXPECT_EQ(static_cast<float>(BFloat16(-1.0f - 3.0f / 256)), -1.0f - 4.0f / 256);
  const uint32_t all_ones_payload = 0x7fffffff;
  float nan;
  std::memcpy(&nan, &all_ones_payload, sizeof nan);
  EXPECT_TRUE(std::isnan(static_cast<float>(BFloat16(nan))));
  EXPECT_TRUE(std::isnan(static_cast<float>(BFloat16(NAN))));
}

// The sign survives every float16 path: normal numbers, overflow and infinities.
TEST(TensorTest, Float16KeepsTheSignOfNormalsAndInfinities) {
  EXPECT_EQ(static_cast<float>(Float16(-2.5f)), -2.5f);
  EXPECT_EQ(static_cast<float>(Float16(-65504.0f)), -65504.0f);
  EXPECT_EQ(static_cast<float>(Float16(-65520.0f)), -INFINITY);
  EXPECT_EQ(static_cast<float>(Float16(-INFINITY)), -INFINITY);
  EXPECT_EQ(static_cast<float>(Float16(INFINITY)), INFINITY);
}

TEST(TensorTest, CopyFillAndZeroWriteInPlace) {
  Tensor t = zeros({2, 2});
  t.copy_(from_vector<double>({1, 2, 3, 4}, {2, 2}));
  EXPECT_EQ(t.to_vector<float>(), std::vector<float>({1, 2, 3, 4}));
  t.fill_(-3.0);
  EXPECT_EQ(t.to_vector<float>(), std::vector<float>({-3, -3, -3, -3}));
  t.zero_();
  EXPECT_EQ(t.to_vector<float>(), std::vector<float>({0, 0, 0, 0}));
  t.fill_(-0.0);  // keeps its sign, as torch.fill_ does
  EXPECT_TRUE(std::signbit(t.to_vector<float>()[3]));
  EXPECT_TRUE(std::signbit(full({1}, -0.0).item<float>()));
  EXPECT_TRUE(throws_error([&] { t.copy_(zeros({4})); }, {"copy_", "(4)", "(2, 2)"}));
}

TEST(TensorTest, SetDataKeepsAutogradIdentity) {
  Tensor param = zeros({2}).set_requires_grad();
  Tensor alias = param;
  param.set_data(from_vector<float>({5, 6, 7}, {3}));
  EXPECT_EQ(alias.shape(), Shape({3}));
  EXPECT_TRUE(alias.requires_grad());
  EXPECT_EQ(alias.to_vector<float>(), std::vector<float>({5, 6, 7}));
}

TEST(TensorTest, RequiresGradOnlyForFloatingTensors) {
  EXPECT_TRUE(throws_error([] { zeros({2}, DType::kInt64).set_requires_grad(); },
                           {"requires_grad", "int64"}));
}

TEST(TensorTest, AGradientMustMatchItsTensorsShapeAndDtype) {
  Tensor w = zeros({2}).set_requires_grad();
  EXPECT_TRUE(throws_error([&] { w.set_grad(zeros({3})); }, {"set_grad", "(3)", "(2)"}));
  EXPECT_TRUE(throws_error([&] { w.set_grad(zeros({2}, DType::kFloat64)); },
                           {"set_grad: a float64 gradient for a float32 tensor of shape (2)"}));
  w.set_grad(ones({2}));
  EXPECT_EQ(w.grad().to_vector<float>(), std::vector<float>({1, 1}));
}

TEST(TensorTest, UndefinedTensorUseIsAnError) {
  Tensor undefined;
  EXPECT_FALSE(undefined.defined());
  EXPECT_TRUE(throws_error([&] { (void)undefined.shape(); }, {"undefined tensor"}));
}

TEST(TensorTest, PrintsLikePyTorch) {
  EXPECT_EQ(from_vector<float>({1, 2.5, -3, 4}, {2, 2}).str(),
            "tensor([[1.0000, 2.5000],\n        [-3.0000, 4.0000]])");
  EXPECT_EQ(from_vector<int64_t>({3, 1}, {2}).str(), "tensor([3, 1], dtype=int64)");
  EXPECT_EQ(scalar_tensor(0.5, DType::kFloat64).str(), "tensor(0.5000, dtype=float64)");
  std::string big = zeros({100, 100}).str();
  EXPECT_NE(big.find("..."), std::string::npos);
  EXPECT_NE(big.find("shape=(100, 100)"), std::string::npos);
}

// Values at or above 1e5, or nonzero below 1e-4, print in scientific notation; 0 does not.
TEST(TensorTest, PrintsVeryLargeAndSmallValuesInScientificNotation) {
  EXPECT_EQ(from_vector<double>({1e-5, 1e-4, 99999, 1e5, 0}, {5}).str(),
            "tensor([1.0000e-05, 0.0001, 99999.0000, 1.0000e+05, 0.0000], dtype=float64)");
}

// Over 1000 elements, a dim longer than six shows its first and last three entries.
TEST(TensorTest, PrintsThreeEdgeItemsOfALongTensor) {
  std::vector<int64_t> values(1001);
  for (int64_t i = 0; i < 1001; ++i) values[i] = i;
  EXPECT_EQ(from_vector(values, {1001}).str(),
            "tensor([0, 1, 2, ..., 998, 999, 1000], shape=(1001), dtype=int64)");
}

TEST(TensorTest, NegativeExtentsAreRejected) {
  EXPECT_TRUE(throws_error([] { empty({2, -1}); }, {"(2, -1)", "negative"}));
}

// Extents whose product passes 2^63 are refused; wrapped, they would size a tiny buffer that
// later indexing runs far past.
TEST(TensorTest, ShapesOfMoreThanTwoToTheSixtyThreeElementsAreRejected) {
  const int64_t huge = int64_t{1} << 62;
  EXPECT_TRUE(throws_error([&] { Shape({huge, 4}).numel(); }, {"(4611686018427387904, 4)",
                                                              "more than 2^63 elements"}));
  EXPECT_TRUE(throws_error([&] { empty({huge, 4}); }, {"more than 2^63 elements"}));
  EXPECT_TRUE(throws_error([&] { empty({huge}, DType::kFloat32); }, {"more than 2^63 bytes"}));
  Tensor x = ones({16});
  EXPECT_TRUE(throws_error([&] { reshape(x, {huge + 4, 4}); }, {"more than 2^63 elements"}));
  EXPECT_TRUE(throws_error([&] { reshape(x, {huge, 4, -1}); }, {"more than 2^63 elements"}));
  EXPECT_EQ(Shape({0, huge, huge}).numel(), 0);  // empty: the product is never formed
  EXPECT_EQ(Shape({huge, 1}).numel(), huge);
}

TEST(TensorTest, CpuCacheReusesFreedBuffers) {
  if (!cpu_cache_enabled()) GTEST_SKIP() << "BITGRAD_CPU_CACHE=0 (as under --config=asan)";
  cpu_empty_cache();
  const void* first;
  {
    Tensor t = empty({1000});
    first = t.raw_data();
  }
  EXPECT_GE(cpu_memory_stats().bytes_cached, 4000u);
  Tensor again = empty({1000});
  EXPECT_EQ(again.raw_data(), first);
  cpu_empty_cache();
  EXPECT_EQ(cpu_memory_stats().bytes_cached, 0u);
}

TEST(TensorTest, CpuCacheServesALargeRequestFromABlockUpToTwiceItsSize) {
  if (!cpu_cache_enabled()) GTEST_SKIP() << "BITGRAD_CPU_CACHE=0 (as under --config=asan)";
  cpu_empty_cache();
  size_t in_use = cpu_memory_stats().bytes_in_use;
  const void* block;
  {
    Tensor big = empty({1 << 20});  // 4 MB
    block = big.raw_data();
  }
  {
    Tensor smaller = empty({3 << 18});  // 3 MB: takes the 4 MB block
    EXPECT_EQ(smaller.raw_data(), block);
    EXPECT_EQ(cpu_memory_stats().bytes_in_use, in_use + (size_t{4} << 20));
  }
  EXPECT_EQ(cpu_memory_stats().bytes_in_use, in_use);
  {
    Tensor half = empty({1 << 18});  // 1 MB: less than half the block, so a block of its own
    EXPECT_NE(half.raw_data(), block);
  }
  EXPECT_EQ(cpu_memory_stats().bytes_in_use, in_use);
  cpu_empty_cache();
  EXPECT_EQ(cpu_memory_stats().bytes_cached, 0u);
}

TEST(TensorTest, CpuCacheMakesRoomForANewBlockByEvictingTheOldest) {
  if (!cpu_cache_enabled()) GTEST_SKIP() << "BITGRAD_CPU_CACHE=0 (as under --config=asan)";
  cpu_empty_cache();
  const int64_t mb = 1 << 18;  // floats in a megabyte
  {
    // 50 MB live at once sets the peak; freed, the blocks fill the cache with sizes that a later,
    // larger request cannot use, as in a sweep over growing sizes.
    std::vector<Tensor> earlier;
    for (int64_t size_mb = 8; size_mb <= 12; ++size_mb) earlier.push_back(empty({size_mb * mb}));
  }
  ASSERT_EQ(cpu_memory_stats().bytes_cached, size_t{50} << 20);
  { Tensor t = empty({30 * mb}); }  // cached, it would take the footprint to 80 MB, past 1.5x 50
  size_t cached = cpu_memory_stats().bytes_cached;
  EXPECT_LE(cached, size_t{75} << 20);
  Tensor again = empty({30 * mb});
  EXPECT_EQ(cpu_memory_stats().bytes_cached, cached - (size_t{30} << 20));  // served from the cache
  cpu_empty_cache();
}

TEST(TensorTest, CpuCacheNeverHandsOutALiveBlockAndKeepsItsCapUnderRandomTraffic) {
  if (!cpu_cache_enabled()) GTEST_SKIP() << "BITGRAD_CPU_CACHE=0 (as under --config=asan)";
  cpu_empty_cache();
  std::mt19937 rng(7);
  std::vector<std::pair<Tensor, float>> live;  // each tensor with the mark written into it
  for (int i = 0; i < 3000; ++i) {
    if (live.empty() || rng() % 2 == 0) {
      // Sizes from 256 floats to 2M, log-uniform: small ones from malloc, large ones mapped.
      const int64_t floats = int64_t{256} << (rng() % 14) | (rng() % 256);
      Tensor t = empty({floats});
      const float mark = static_cast<float>(i);
      t.mutable_data<float>()[0] = t.mutable_data<float>()[floats - 1] = mark;
      live.emplace_back(std::move(t), mark);
    } else {
      const size_t victim = rng() % live.size();
      const auto& [t, mark] = live[victim];
      // Another tensor given the same memory would have written its own mark over this one.
      ASSERT_EQ(t.data<float>()[0], mark) << "step " << i;
      ASSERT_EQ(t.data<float>()[t.numel() - 1], mark) << "step " << i;
      live.erase(live.begin() + victim);
    }
    const CpuMemoryStats s = cpu_memory_stats();
    ASSERT_LE(s.bytes_in_use + s.bytes_cached, 1.5 * s.peak_bytes_in_use) << "step " << i;
  }
  live.clear();
  cpu_empty_cache();
  EXPECT_EQ(cpu_memory_stats().bytes_cached, 0u);
}

TEST(TensorTest, CpuCacheKeepsTheFootprintWithinHeadroomOverThePeakOfLiveBytes) {
  cpu_empty_cache();
  auto footprint = [] {
    CpuMemoryStats s = cpu_memory_stats();
    return s.bytes_in_use + s.bytes_cached;
  };
  size_t peak = cpu_memory_stats().peak_bytes_in_use;
  // Many distinct sizes, each freed right away: a naive size-keyed cache would hold them all.
  // The cache may hold up to half the peak on top of it (kCacheHeadroom in core/storage.cc).
  for (int64_t n = 1; n <= 200; ++n) empty({n * 1024});
  EXPECT_LE(footprint(), 1.5 * std::max(peak, cpu_memory_stats().peak_bytes_in_use));
  {
    Tensor big = empty({1 << 20});  // raises the peak
  }
  EXPECT_LE(footprint(), 1.5 * cpu_memory_stats().peak_bytes_in_use);
  cpu_empty_cache();
}

}  // namespace
}  // namespace bitgrad
