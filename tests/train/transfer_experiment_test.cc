// The embedded default of bit_finetune, shortened to a few updates on a made-up Fashion-MNIST:
// what it trains, caches, reports and writes, and that it is deterministic.
#include "train/transfer_experiment.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/random.h"
#include "gtest/gtest.h"
#include "models/checkpoint.h"
#include "train/run_config.h"
#include "tests/data/idx_bytes.h"
#include "tests/data/temp_files.h"

namespace bitgrad {
namespace {

namespace fs = std::filesystem;

// `per_class` 28x28 images of each of the 10 classes: noise plus a bright bar whose row is the
// class, so that the classes can be told apart.
void write_split(const fs::path& dir, const std::string& prefix, int per_class, uint64_t seed) {
  Generator generator(seed);
  const uint32_t n = 10 * per_class;
  std::string pixels, labels;
  for (uint32_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(i % 10);
    labels.push_back(static_cast<char>(label));
    for (int y = 0; y < 28; ++y) {
      for (int x = 0; x < 28; ++x) {
        const bool bar = y / 2 == label + 2 && x > 4 && x < 24;
        pixels.push_back(static_cast<char>(bar ? 255 : generator.randint(60)));
      }
    }
  }
  testing::write_file(dir / (prefix + "-images-idx3-ubyte"),
                      testing::idx_images_file(n, 28, 28, pixels));
  testing::write_file(dir / (prefix + "-labels-idx1-ubyte"), testing::idx_labels_file(labels));
}

class TransferExperimentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::fresh_temp_dir("transfer_experiment");
    write_split(root_ / "fashion", "train", 12, 1);
    write_split(root_ / "fashion", "t10k", 3, 2);
    setenv("XDG_CACHE_HOME", (root_ / "cache").c_str(), 1);
    config_.set_dataset("fashion_mnist:" + (root_ / "fashion").string());
    config_.set_seed(4);
    config_.set_workers(2);
  }

  absl::StatusOr<TransferResult> run(const std::string& out_dir, std::string* log) {
    config_.set_out(out_dir.empty() ? "" : (root_ / out_dir).string());
    std::ostringstream out;
    absl::StatusOr<TransferResult> result = run_transfer_experiment(config_, out, kShort);
    *log = out.str();
    return result;
  }

  static constexpr TransferSchedule kShort{.upstream_steps = 4, .downstream_steps = 3,
                                           .few_shot_draws = 2};
  fs::path root_;
  RunConfig config_;
};

TEST_F(TransferExperimentTest, TrainsCachesAndComparesTransferWithScratch) {
  std::string log;
  absl::StatusOr<TransferResult> first = run("run", &log);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_NE(log.find("== upstream: training on classes 0,1,3,8,9"), std::string::npos) << log;
  // After the first fine-tuning, each says how far the experiment is and how long it has left.
  for (const char* progress : {"(run 2 of 4, ETA ", "(run 4 of 4, ETA "}) {
    EXPECT_NE(log.find(progress), std::string::npos) << progress << log;
  }
  EXPECT_EQ(log.find("(run 1 of 4"), std::string::npos) << log;
  EXPECT_TRUE(fs::exists(first->upstream_checkpoint));
  EXPECT_EQ(fs::path(first->upstream_checkpoint).parent_path(), root_ / "cache" / "bitgrad");
  absl::StatusOr<Checkpoint> upstream = load_checkpoint(first->upstream_checkpoint);
  ASSERT_TRUE(upstream.ok()) << upstream.status();
  EXPECT_EQ(upstream->class_names,
            std::vector<std::string>({"T-shirt/top", "Trouser", "Dress", "Bag", "Ankle boot"}));
  EXPECT_EQ(upstream->input_resolution, 32);

  ASSERT_EQ(first->transfer.size(), 2u);
  ASSERT_EQ(first->scratch.size(), 2u);
  for (const auto* runs : {&first->transfer, &first->scratch}) {
    for (const FinetuneResult& r : *runs) {
      EXPECT_EQ(r.test.examples, 15);  // 3 test images of each of the 5 downstream classes
      EXPECT_EQ(r.steps, 3);
    }
  }
  const double expected_gain = (first->transfer[0].test.top1 + first->transfer[1].test.top1) / 2 -
                               (first->scratch[0].test.top1 + first->scratch[1].test.top1) / 2;
  EXPECT_NEAR(first->mean_gain(), expected_gain, 1e-12);
  const double gain[2] = {first->transfer[0].test.top1 - first->scratch[0].test.top1,
                          first->transfer[1].test.top1 - first->scratch[1].test.top1};
  EXPECT_EQ(first->draw_gains(), std::vector<double>({gain[0], gain[1]}));
  // Two draws: the standard error of their mean is half their difference.
  EXPECT_NEAR(first->gain_standard_error(), std::abs(gain[0] - gain[1]) / 2, 1e-12);
  for (int k = 0; k < 2; ++k) {
    const std::string row = absl::StrFormat("  %4d    %6.2f%%   %6.2f%%   %+6.2f\n", 4 + k,
                                            100 * first->transfer[k].test.top1,
                                            100 * first->scratch[k].test.top1, 100 * gain[k]);
    EXPECT_NE(log.find(row), std::string::npos) << row << log;
  }
  // By class: each one's top-1 over both draws' test images (3 per class and draw).
  EXPECT_NE(log.find("by class, over the draws:\n  class      transfer   scratch     gain\n"),
            std::string::npos)
      << log;
  const std::vector<std::string> names = {"Pullover", "Coat", "Sandal", "Shirt", "Sneaker"};
  for (size_t c = 0; c < names.size(); ++c) {
    int64_t top1[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
      EXPECT_EQ(first->transfer[k].test.class_examples[c], 3);
      top1[0] += first->transfer[k].test.class_top1[c];
      top1[1] += first->scratch[k].test.class_top1[c];
    }
    const std::string row = absl::StrFormat("  %-8s    %6.2f%%   %6.2f%%   %+6.2f\n", names[c],
                                            100 * top1[0] / 6.0, 100 * top1[1] / 6.0,
                                            100 * (top1[0] - top1[1]) / 6.0);
    EXPECT_NE(log.find(row), std::string::npos) << row << log;
  }
  const std::string total =
      absl::StrFormat("transfer gain: %+.2f points, standard error %.2f (2 draws)\n",
                      100 * first->mean_gain(), 100 * first->gain_standard_error());
  EXPECT_NE(log.find(total), std::string::npos) << total << log;
  for (const char* dir : {"upstream", "transfer/seed_4", "transfer/seed_5", "scratch/seed_4",
                          "scratch/seed_5"}) {
    EXPECT_TRUE(fs::exists(root_ / "run" / dir / "metrics.jsonl")) << dir;
  }

  // The second run loads the cached upstream model and repeats every result, with another
  // number of loader threads too.
  config_.set_workers(1);
  absl::StatusOr<TransferResult> second = run("", &log);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(log.find("== upstream: cached " + first->upstream_checkpoint + ", written 20"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("(delete it to train it again"), std::string::npos) << log;
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_EQ(second->transfer[k].test.loss, first->transfer[k].test.loss);
    EXPECT_EQ(second->scratch[k].test.loss, first->scratch[k].test.loss);
  }
  // The two arms differ in their start only, and the draws in their images.
  EXPECT_NE(first->transfer[0].test.loss, first->scratch[0].test.loss);
  EXPECT_NE(first->transfer[0].test.loss, first->transfer[1].test.loss);

  // A damaged cached model is trained again, to the same model.
  fs::resize_file(first->upstream_checkpoint, fs::file_size(first->upstream_checkpoint) / 2);
  absl::StatusOr<TransferResult> third = run("", &log);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_NE(log.find("== upstream: the cached model is not usable (unreadable: "),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("); training it again"), std::string::npos) << log;
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_EQ(third->transfer[k].test.loss, first->transfer[k].test.loss);
  }
  EXPECT_TRUE(load_checkpoint(first->upstream_checkpoint).ok());
}

// Another checkpoint copied over the cached file, readable but trained on other classes or with
// other settings than its name stands for, is named and trained again, to the same model.
TEST_F(TransferExperimentTest, ACachedModelOfOtherClassesOrSettingsIsTrainedAgain) {
  std::string log;
  absl::StatusOr<TransferResult> first = run("", &log);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string path = first->upstream_checkpoint;
  const auto replace_cached = [&](const std::function<void(Checkpoint&)>& change) {
    absl::StatusOr<Checkpoint> cached = load_checkpoint(path);
    ASSERT_TRUE(cached.ok()) << cached.status();
    change(*cached);
    ASSERT_TRUE(save_checkpoint(path, *cached).ok());
  };
  replace_cached([](Checkpoint& c) { c.class_names[1] = "Sandal"; });
  absl::StatusOr<TransferResult> again = run("", &log);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(log.find("== upstream: the cached model is not usable (its classes are T-shirt/top, "
                     "Sandal, Dress, Bag, Ankle boot; expected T-shirt/top, Trouser, "),
            std::string::npos)
      << log;
  EXPECT_EQ(again->transfer[0].test.loss, first->transfer[0].test.loss);

  replace_cached([](Checkpoint& c) {
    absl::StatusOr<RunConfig> config = parse_run_config(c.config, "the test");
    ASSERT_TRUE(config.ok()) << config.status();
    config->set_base_lr(config->base_lr() / 2);
    c.config = run_config_text(*config);
  });
  again = run("", &log);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(log.find("not usable (trained with other settings: --base_lr="), std::string::npos)
      << log;
  EXPECT_EQ(again->transfer[0].test.loss, first->transfer[0].test.loss);
  EXPECT_NE(log.find("); training it again"), std::string::npos) << log;
}

// A cache file that could not be written is found before the upstream training, not after it.
TEST_F(TransferExperimentTest, AnUnwritableCacheFailsBeforeTheTraining) {
  std::string log;
  absl::StatusOr<TransferResult> first = run("", &log);
  ASSERT_TRUE(first.ok()) << first.status();
  fs::remove(first->upstream_checkpoint);
  fs::create_directory(first->upstream_checkpoint);  // a folder where the file goes
  absl::StatusOr<TransferResult> again = run("", &log);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(std::string(again.status().message()).find("the upstream model's cache: "),
            std::string::npos)
      << again.status();
  EXPECT_EQ(log.find("step "), std::string::npos) << log;
}

TEST_F(TransferExperimentTest, OtherDatasetsNeedWeights) {
  config_.set_dataset("cifar10:" + root_.string());
  std::string log;
  absl::StatusOr<TransferResult> result = run("", &log);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(std::string(result.status().message()).find("--weights: needed with --dataset=cifar10"),
            std::string::npos)
      << result.status();
}

// The report's numbers, from the draws' top-1 alone.
TEST(TransferResultTest, TheGainIsPairedByDrawWithTheStandardErrorOfItsMean) {
  const auto runs = [](const std::vector<double>& top1) {
    std::vector<FinetuneResult> results(top1.size());
    for (size_t i = 0; i < top1.size(); ++i) results[i].test.top1 = top1[i];
    return results;
  };
  TransferResult result;
  result.transfer = runs({0.7, 0.6, 0.8});
  result.scratch = runs({0.5, 0.5, 0.5});
  const std::vector<double> gains = result.draw_gains();
  ASSERT_EQ(gains.size(), 3u);
  EXPECT_NEAR(gains[0], 0.2, 1e-12);
  EXPECT_NEAR(gains[1], 0.1, 1e-12);
  EXPECT_NEAR(gains[2], 0.3, 1e-12);
  EXPECT_NEAR(result.mean_gain(), 0.2, 1e-12);
  // The gains' sample variance is 0.01; the mean of 3 has a variance of 0.01 / 3.
  EXPECT_NEAR(result.gain_standard_error(), std::sqrt(0.01 / 3), 1e-12);
  // One draw has no spread to measure: 0, not the NaN of 0 / 0.
  result.scratch.resize(1);
  EXPECT_EQ(result.draw_gains().size(), 1u);  // a draw's gain needs both arms
  EXPECT_EQ(result.gain_standard_error(), 0);
}

// $XDG_CACHE_HOME/bitgrad, else $HOME/.cache/bitgrad; an empty variable counts as unset.
TEST(TransferCacheTest, TheCacheFolderFollowsXdgThenHome) {
  const char* const home_before = std::getenv("HOME");
  const std::optional<std::string> home =
      home_before != nullptr ? std::optional<std::string>(home_before) : std::nullopt;
  setenv("HOME", "/home/ada", 1);
  setenv("XDG_CACHE_HOME", "/caches", 1);
  EXPECT_EQ(bitgrad_cache_dir(), "/caches/bitgrad");
  setenv("XDG_CACHE_HOME", "", 1);
  EXPECT_EQ(bitgrad_cache_dir(), "/home/ada/.cache/bitgrad");
  unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(bitgrad_cache_dir(), "/home/ada/.cache/bitgrad");
  home ? setenv("HOME", home->c_str(), 1) : unsetenv("HOME");
}

}  // namespace
}  // namespace bitgrad
