// The data pieces wired together as a fine-tuning run uses them: a dataset on disk, a few-shot
// subset, the resolution, the loader, mixup and the soft-target loss.
#include <cmath>
#include <string>

#include "data/bit_preprocess.h"
#include "data/datasets.h"
#include "data/few_shot.h"
#include "data/loader.h"
#include "data/mixup.h"
#include "gtest/gtest.h"
#include "ops/loss.h"
#include "tests/data/temp_files.h"

namespace bitgrad {
namespace {

// A CIFAR-10 directory: 5 train files of 6 records (3 images per class), a 1-record test file.
std::string tiny_cifar10() {
  const std::string dir = testing::fresh_temp_dir("pipeline_cifar10");
  for (int file = 1; file <= 5; ++file) {
    std::string records;
    for (int r = 0; r < 6; ++r) {
      const int i = (file - 1) * 6 + r;
      records += static_cast<char>(i % 10) + std::string(3072, static_cast<char>(8 * i));
    }
    testing::write_file(dir + "/data_batch_" + std::to_string(file) + ".bin", records);
  }
  testing::write_file(dir + "/test_batch.bin", '\x03' + std::string(3072, '\x10'));
  return dir;
}

TEST(PipelineTest, FewShotCifarThroughTheLoaderMixupAndLoss) {
  absl::StatusOr<Dataset> data = load_dataset(DatasetFormat::kCifar10, tiny_cifar10());
  ASSERT_TRUE(data.ok()) << data.status();
  absl::StatusOr<ImageSet> train = few_shot_subset(data->train, 2, /*seed=*/1);
  ASSERT_TRUE(train.ok()) << train.status();
  ASSERT_EQ(train->size(), 20);
  absl::StatusOr<Resolution> resolution = resolution_for(*train, /*crop=*/16);
  ASSERT_TRUE(resolution.ok()) << resolution.status();
  EXPECT_EQ(resolution->precrop, 20);  // 16 * 160 / 128: CIFAR is a small-image data set

  LoaderOptions options;
  options.batch_size = 8;
  options.resolution = *resolution;
  options.seed = 1;
  absl::StatusOr<std::unique_ptr<Loader>> loader = Loader::open(*train, options);
  ASSERT_TRUE(loader.ok()) << loader.status();
  Mixup mixup(0.1);
  Generator generator(1);
  for (int update = 0; update < 3; ++update) {
    mixup.start_update(generator);
    absl::StatusOr<Batch> batch = (*loader)->next();
    ASSERT_TRUE(batch.ok()) << batch.status();
    EXPECT_EQ(batch->images.shape(), Shape({8, 3, 16, 16}));
    const MixedBatch mixed = mixup.apply(batch->images, batch->labels, 10, generator);
    // Every soft-target row sums to 1, so constant logits give a loss of log(10).
    const Tensor loss = cross_entropy(zeros({8, 10}), mixed.targets);
    EXPECT_NEAR(loss.item<double>(), std::log(10.0), 1e-5);
  }
}

}  // namespace
}  // namespace bitgrad
