// A checkpoint larger than 2 GB (the protobuf message limit) round-trips. Tagged manual: it
// writes 2.3 GB to the test's temp directory. Run: bazel test //tests/models:checkpoint_over_2gb
#include <cstdio>
#include <cstring>

#include "gtest/gtest.h"
#include "models/checkpoint.h"

namespace bitgrad {
namespace {

TEST(CheckpointOver2GbTest, RoundTrips) {
  constexpr int64_t kElements = 192LL << 20;  // 768 MiB of float32 per tensor
  Checkpoint saved;
  for (int i = 0; i < 3; ++i) {
    Tensor t = empty({kElements});
    float* p = t.mutable_data<float>();
    for (int64_t k = 0; k < kElements; k += 4096) p[k] = static_cast<float>(i * 1000 + k % 997);
    for (int64_t k = 0; k < kElements; ++k) {
      if (k % 4096) p[k] = 0.5f;
    }
    saved.parameters.emplace_back("w" + std::to_string(i), t);
  }
  std::string path = ::testing::TempDir() + "/big.ckpt";
  ASSERT_TRUE(save_checkpoint(path, saved).ok());
  absl::StatusOr<Checkpoint> loaded = load_checkpoint(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  for (int i = 0; i < 3; ++i) {
    const float* a = saved.parameters[i].second.data<float>();
    const float* b = loaded->parameters[i].second.data<float>();
    EXPECT_EQ(std::memcmp(a, b, kElements * sizeof(float)), 0) << "tensor " << i;
  }
  std::remove(path.c_str());
}

}  // namespace
}  // namespace bitgrad
