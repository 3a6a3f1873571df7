// Module::to(Device) with a GPU: parameters, buffers and gradients move in place, so handles
// held elsewhere (an optimizer's) follow; BiT weights load into and save from a GPU model.
// Skipped without a GPU.
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "models/bit_weights.h"
#include "models/module.h"
#include "tests/testing/gpu.h"

namespace bitgrad {
namespace {

TEST(CudaModuleTest, ToMovesParametersBuffersAndGradsInPlace) {
  BG_REQUIRE_GPU();
  Module root("Root");
  auto child = root.register_module("child", std::make_shared<Module>("Child"));
  Tensor weight = child->register_parameter("weight", full({2, 3}, 1.5));
  Tensor buffer = root.register_buffer("steps", full({1}, 7.0, DType::kInt64));
  weight.set_grad(full({2, 3}, 0.25));

  EXPECT_EQ(Module("Empty").device(), Device::cpu());
  EXPECT_EQ(root.device(), Device::cpu());
  root.to(Device::cuda());
  EXPECT_EQ(root.device(), Device::cuda());  // found in the child: root has no parameter of its own
  EXPECT_TRUE(weight.device().is_cuda());
  EXPECT_TRUE(weight.grad().device().is_cuda());
  EXPECT_TRUE(buffer.device().is_cuda());
  EXPECT_TRUE(weight.is_same(root.parameter("child.weight")));
  EXPECT_TRUE(weight.requires_grad());
  EXPECT_EQ(weight.to_vector<float>(), std::vector<float>(6, 1.5f));
  EXPECT_EQ(weight.grad().to_vector<float>(), std::vector<float>(6, 0.25f));

  root.to(Device::cpu());
  EXPECT_TRUE(weight.device().is_cpu());
  EXPECT_EQ(buffer.to_vector<int64_t>(), std::vector<int64_t>{7});
}

TEST(CudaModuleTest, BitWeightsLoadIntoAndSaveFromAGpuModel) {
  BG_REQUIRE_GPU();
  BitConfig config;
  config.base_width = 1;
  config.num_groups = 1;
  config.head_size = 3;
  BitResNetV2 model(config);
  model.to(Device::cuda());
  const std::string path = "tests/models/testdata/bit_r50_tiny.npz";
  auto message = load_bit_weights(model, path);
  ASSERT_TRUE(message.ok()) << message.status();
  const Tensor root = model.parameter("root.conv.weight");
  EXPECT_TRUE(root.device().is_cuda());
  // The fixture's root kernel holds 1000*o + 100*i + 10*h + w; flat OIHW index 8 is h=1, w=1.
  EXPECT_EQ(root.to_vector<float>()[8], 11.0f);

  const std::string saved = std::string(std::getenv("TEST_TMPDIR")) + "/from_gpu.npz";
  ASSERT_TRUE(save_bit_weights(model, saved).ok());
  auto original = read_npz(path);
  auto back = read_npz(saved);
  ASSERT_TRUE(original.ok() && back.ok());
  ASSERT_EQ(original->size(), back->size());
  std::map<std::string, Tensor> by_key(back->begin(), back->end());
  for (const auto& [key, array] : *original) {
    ASSERT_EQ(by_key.count(key), 1u) << key;
    EXPECT_EQ(array.to_vector<float>(), by_key.at(key).to_vector<float>()) << key;
  }
}

}  // namespace
}  // namespace bitgrad
