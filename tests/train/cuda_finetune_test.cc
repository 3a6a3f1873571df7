// bit_finetune --device=cuda: the tiny run on the GPU gives the CPU run's losses (TF32 off), with
// the default settings and with BiT's upstream loss and crops, and its checkpoint loads on the
// CPU. Skipped without a GPU.
#include <cmath>
#include <filesystem>

#include "gtest/gtest.h"
#include "tests/testing/gpu.h"
#include "tests/train/finetune_binary.h"

namespace bitgrad {
namespace {

namespace fs = std::filesystem;

// TF32 off, so that the GPU's float32 convolutions round as the CPU's do.
testing::ChildOptions exact(const std::string& dir) {
  return {.env = {"BITGRAD_CUDA_TF32=0"}, .log_prefix = dir + "/log"};
}

// Runs the tiny run with `extra` flags on the CPU and on the GPU, in folders named `name`_cpu and
// `name`_gpu of `dir`, and compares their losses.
void expect_gpu_losses_match_cpu(const std::string& dir, const std::string& name,
                                 const std::vector<std::string>& extra) {
  const std::string dataset = dir + "/tiny.npz";
  auto flags = [&](const std::string& out, const std::string& device) {
    std::vector<std::string> f = testing::tiny_run_flags(dataset, dir + "/" + out, 4, 4);
    f.push_back("--device=" + device);
    f.insert(f.end(), extra.begin(), extra.end());
    return f;
  };
  testing::Finished cpu = testing::run_finetune_binary(flags(name + "_cpu", "cpu"), exact(dir));
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  testing::Finished gpu = testing::run_finetune_binary(flags(name + "_gpu", "cuda"), exact(dir));
  ASSERT_EQ(gpu.exit_code, 0) << gpu.err;
  EXPECT_NE(gpu.out.find("on cuda:0"), std::string::npos) << gpu.out;
  const std::vector<double> want = testing::train_losses(dir + "/" + name + "_cpu");
  const std::vector<double> got = testing::train_losses(dir + "/" + name + "_gpu");
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-3 * std::abs(want[i])) << name << ": update " << i + 1;
  }
}

class CudaFinetuneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BG_REQUIRE_GPU();
    dir_ = ::testing::TempDir() + "/cuda_finetune";
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    testing::write_tiny_dataset(dir_ + "/tiny.npz");
  }
  std::string dir_;
};

TEST_F(CudaFinetuneTest, TheGpuRunGivesTheCpuRunsLossesAndCheckpoint) {
  expect_gpu_losses_match_cpu(dir_, "plain", {});
  // The GPU run's checkpoint loads on the CPU (--device may change on resume).
  std::vector<std::string> again =
      testing::tiny_run_flags(dir_ + "/tiny.npz", dir_ + "/plain_gpu", 4, 4);
  again.push_back("--device=cpu");
  again.push_back("--resume");
  testing::Finished resumed = testing::run_finetune_binary(again, exact(dir_));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("at step 4"), std::string::npos) << resumed.out;
}

// BiT's upstream recipe: the sigmoid loss's CUDA kernels, with inception crops made on the CPU.
TEST_F(CudaFinetuneTest, SigmoidLossAndInceptionCropsGiveTheCpuRunsLosses) {
  expect_gpu_losses_match_cpu(dir_, "upstream", {"--loss=sigmoid", "--augment=inception"});
}

}  // namespace
}  // namespace bitgrad
