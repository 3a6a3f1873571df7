// bit_finetune --device=cuda: the tiny run on the GPU gives the CPU run's losses (TF32 off), and
// its checkpoint loads on the CPU. Skipped without a GPU.
#include <cmath>
#include <filesystem>

#include "gtest/gtest.h"
#include "tests/testing/gpu.h"
#include "tests/train/finetune_binary.h"

namespace bitgrad {
namespace {

namespace fs = std::filesystem;

TEST(CudaFinetuneTest, TheGpuRunGivesTheCpuRunsLossesAndCheckpoint) {
  BG_REQUIRE_GPU();
  const std::string dir = ::testing::TempDir() + "/cuda_finetune";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string dataset = dir + "/tiny.npz";
  testing::write_tiny_dataset(dataset);
  auto flags = [&](const std::string& out, const std::string& device) {
    std::vector<std::string> f = testing::tiny_run_flags(dataset, dir + "/" + out, 4, 4);
    f.push_back("--device=" + device);
    return f;
  };
  const testing::ChildOptions exact{.env = {"BITGRAD_CUDA_TF32=0"}, .log_prefix = dir + "/log"};
  testing::Finished cpu = testing::run_finetune_binary(flags("cpu", "cpu"), exact);
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  testing::Finished gpu = testing::run_finetune_binary(flags("gpu", "cuda"), exact);
  ASSERT_EQ(gpu.exit_code, 0) << gpu.err;
  EXPECT_NE(gpu.out.find("on cuda:0"), std::string::npos) << gpu.out;
  const std::vector<double> want = testing::train_losses(dir + "/cpu");
  const std::vector<double> got = testing::train_losses(dir + "/gpu");
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-3 * std::abs(want[i])) << "update " << i + 1;
  }
  // The GPU run's checkpoint loads on the CPU (--device may change on resume).
  std::vector<std::string> again = flags("gpu", "cpu");
  again.push_back("--resume");
  testing::Finished resumed = testing::run_finetune_binary(again, exact);
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("at step 4"), std::string::npos) << resumed.out;
}

}  // namespace
}  // namespace bitgrad
