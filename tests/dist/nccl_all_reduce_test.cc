// The NCCL all-reduce with a world of one process (the GPU smoke test of issue 16): the sum over
// one process leaves the values as they are, queued on the GPU's stream. Skipped without a GPU.
#include "dist/nccl_all_reduce.h"

#include <vector>

#include "core/tensor.h"
#include "gtest/gtest.h"
#include "tests/testing/gpu.h"

namespace bitgrad {
namespace {

TEST(NcclAllReduceTest, OneProcessSumLeavesTheValues) {
  BG_REQUIRE_GPU();
  SingleProcess world;
  absl::StatusOr<std::unique_ptr<NcclAllReduce>> nccl = NcclAllReduce::open(world, 0);
  ASSERT_TRUE(nccl.ok()) << nccl.status();
  for (int64_t n : {1, 1000, 3 << 20}) {
    std::vector<float> values(n);
    for (int64_t i = 0; i < n; ++i) values[i] = static_cast<float>(i % 1000) - 500.0f;
    Tensor t = from_vector(values, {n}, Device::cuda());
    (*nccl)->sum(t.mutable_data<float>(), n);
    EXPECT_EQ(t.to_vector<float>(), values) << n;
  }
}

}  // namespace
}  // namespace bitgrad
