// BiT-R50x1 end to end on the GPU against the same model on the CPU, TF32 off: the logits, and
// the weights after three SGD steps (the whole-model checks).
#include <algorithm>

#include "core/random.h"
#include "models/bit_resnet_v2.h"
#include "ops/cuda/math_mode.h"
#include "ops/loss.h"
#include "optim/sgd.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gpu.h"

namespace bitgrad {
namespace {

using testing::close_relative;

class BitModelCudaTest : public ::testing::Test {
 protected:
  void SetUp() override { set_cuda_tf32_enabled(false); }
  void TearDown() override { set_cuda_tf32_enabled(true); }

  static BitConfig r50x1() {
    BitConfig config;
    config.head_size = 10;
    config.seed = 11;
    return config;
  }
};

TEST_F(BitModelCudaTest, R50x1LogitsMatchTheCpu) {
  BG_REQUIRE_GPU();
  BitResNetV2 cpu_model(r50x1()), gpu_model(r50x1());  // same seed, same weights
  gpu_model.to(Device::cuda());
  Tensor images = randn({3, 3, 64, 64});
  Tensor expected = cpu_model(images);
  Tensor logits = gpu_model(images.to(Device::cuda()));
  EXPECT_TRUE(logits.device().is_cuda());
  EXPECT_TRUE(close_relative(logits, expected, 1e-3));
}

TEST_F(BitModelCudaTest, ThreeSgdStepsGiveTheCpuWeights) {
  BG_REQUIRE_GPU();
  BitResNetV2 cpu_model(r50x1()), gpu_model(r50x1());
  gpu_model.to(Device::cuda());
  const SgdOptions options{0.01, 0.9, 0.0, 1e-4, false};
  Sgd cpu_sgd(cpu_model.named_parameters(), options);
  Sgd gpu_sgd(gpu_model.named_parameters(), options);
  Generator generator(5);
  for (int step = 0; step < 3; ++step) {
    Tensor images = randn({4, 3, 64, 64}, DType::kFloat32, Device::cpu(), generator);
    Tensor labels = from_vector<int64_t>({1, 7, 3, 7}, {4});
    Tensor cpu_loss = cross_entropy(cpu_model(images), labels);
    Tensor gpu_loss =
        cross_entropy(gpu_model(images.to(Device::cuda())), labels.to(Device::cuda()));
    EXPECT_NEAR(gpu_loss.item<double>(), cpu_loss.item<double>(),
                1e-3 * std::max(1.0, cpu_loss.item<double>()))
        << "step " << step;
    cpu_loss.backward();
    gpu_loss.backward();
    cpu_sgd.step();
    gpu_sgd.step();
    cpu_sgd.zero_grad();
    gpu_sgd.zero_grad();
  }
  const auto cpu_params = cpu_model.named_parameters();
  const auto gpu_params = gpu_model.named_parameters();
  ASSERT_EQ(cpu_params.size(), gpu_params.size());
  for (size_t i = 0; i < cpu_params.size(); ++i) {
    EXPECT_TRUE(gpu_params[i].second.device().is_cuda());
    EXPECT_TRUE(close_relative(gpu_params[i].second, cpu_params[i].second, 1e-3))
        << cpu_params[i].first;
  }
}

}  // namespace
}  // namespace bitgrad
