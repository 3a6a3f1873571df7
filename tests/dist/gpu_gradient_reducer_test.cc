// The gradient reducer with parameters on a GPU: buckets in GPU memory, summed by a
// DeviceAllReduce on the GPU's stream (NCCL in a real run; here one that stands in for three
// identical processes). Skipped without a GPU.
#include <vector>

#include "autograd/engine.h"
#include "core/random.h"
#include "core/storage.h"
#include "dist/gradient_reducer.h"
#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gpu.h"

namespace bitgrad {
namespace {

// Multiplies the GPU buffer by `processes`, through the host: what N identical processes sum.
class IdenticalGpus final : public DeviceAllReduce {
 public:
  explicit IdenticalGpus(int processes) : processes_(processes) {}
  void sum(float* device_values, int64_t count) override {
    DeviceRuntime& gpu = device_runtime(DeviceType::kCUDA);
    std::vector<float> host(count);
    gpu.copy(host.data(), Device::cpu(), device_values, Device::cuda(), count * sizeof(float));
    for (float& v : host) v *= static_cast<float>(processes_);
    gpu.copy(device_values, Device::cuda(), host.data(), Device::cpu(), count * sizeof(float));
    ++calls;
  }
  int calls = 0;

 private:
  int processes_;
};

TEST(GpuGradientReducerTest, SumsEveryGradientInGpuMemory) {
  BG_REQUIRE_GPU();
  manual_seed(3);
  std::vector<Tensor> weights;
  for (int64_t n : {7, 13, 9, 11}) {
    weights.push_back(randn({n}).to(Device::cuda()).set_requires_grad());
  }
  std::vector<Tensor> expected;  // one process's gradient of sum(w * w) is 2w; three processes
  for (const Tensor& w : weights) expected.push_back(w.detach() * 6.0);
  SingleProcess world;  // not used for GPU parameters
  IdenticalGpus gpus(3);
  GradientReducer reducer(weights, world, /*bucket_bytes=*/40, &gpus);  // one tensor a bucket
  Tensor loss = sum(weights[0] * weights[0]);
  for (size_t i = 1; i < weights.size(); ++i) loss = loss + sum(weights[i] * weights[i]);
  backward(loss, Tensor(), reducer.backward_options());
  reducer.finish();
  EXPECT_EQ(gpus.calls, 4);
  for (size_t i = 0; i < weights.size(); ++i) {
    EXPECT_TRUE(weights[i].grad().device().is_cuda());
    EXPECT_TRUE(testing::all_close(weights[i].grad(), expected[i], 1e-6, 1e-6)) << i;
  }
}

TEST(GpuGradientReducerTest, GpuParametersNeedADeviceAllReduce) {
  BG_REQUIRE_GPU();
  SingleProcess world;
  EXPECT_TRUE(testing::throws_error(
      [&] { GradientReducer({zeros({3}, DType::kFloat32, Device::cuda())}, world); },
      {"GradientReducer", "cuda:0", "NCCL"}));
}

}  // namespace
}  // namespace bitgrad
