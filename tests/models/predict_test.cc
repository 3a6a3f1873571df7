#include "models/predict.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "models/train_state.h"
#include "ops/elementwise.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::fails_naming;
using testing::same_bits;

BitConfig tiny_config() {
  BitConfig config;
  config.base_width = 4;
  config.num_groups = 2;
  config.head_size = 6;
  config.seed = 11;
  return config;
}

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "/" + name; }

TEST(TopKTest, RanksClassesWithSoftmaxProbabilities) {
  const Tensor logits = from_vector<float>({1, 3, 2, 3, /**/ -1, -2, -3, 0}, {2, 4});
  const auto best = top_k(logits, 3);
  ASSERT_EQ(best.size(), 2u);
  ASSERT_EQ(best[0].size(), 3u);
  // Equal logits: the lower index first.
  EXPECT_EQ(best[0][0].index, 1);
  EXPECT_EQ(best[0][1].index, 3);
  EXPECT_EQ(best[0][2].index, 2);
  const double z0 = std::exp(1) + 2 * std::exp(3) + std::exp(2);
  EXPECT_NEAR(best[0][0].probability, std::exp(3) / z0, 1e-12);
  EXPECT_NEAR(best[0][2].probability, std::exp(2) / z0, 1e-12);
  EXPECT_EQ(best[0][2].logit, 2.0f);
  EXPECT_EQ(best[1][0].index, 3);
  EXPECT_EQ(best[1][1].index, 0);
  EXPECT_EQ(best[1][2].index, 1);
  // k beyond the class count gives every class.
  EXPECT_EQ(top_k(logits, 10)[0].size(), 4u);
}

TEST(TopKTest, SigmoidProbabilitiesArePerClass) {
  const Tensor logits = from_vector<float>({0, 2, -1}, {1, 3});
  const auto best = top_k(logits, 3, Probabilities::kSigmoid);
  EXPECT_EQ(best[0][0].index, 1);
  EXPECT_EQ(best[0][2].index, 2);
  EXPECT_NEAR(best[0][0].probability, 1 / (1 + std::exp(-2.0)), 1e-12);
  EXPECT_NEAR(best[0][1].probability, 0.5, 1e-12);
  EXPECT_NEAR(best[0][2].probability, 1 / (1 + std::exp(1.0)), 1e-12);
}

TEST(TopKTest, LargeLogitsDoNotOverflow) {
  const auto best = top_k(from_vector<float>({1000, 999}, {1, 2}), 2);
  EXPECT_NEAR(best[0][0].probability, 1 / (1 + std::exp(-1.0)), 1e-12);
}

// A diverged model's NaNs rank last, in class order, and do not upset the sort.
TEST(TopKTest, NansRankLast) {
  const float nan = std::nanf("");
  const auto best = top_k(from_vector<float>({nan, 2, nan, 1, 2, -5}, {1, 6}), 6);
  std::vector<int64_t> order;
  for (const ClassScore& score : best[0]) order.push_back(score.index);
  EXPECT_EQ(order, std::vector<int64_t>({1, 4, 3, 5, 0, 2}));
}

TEST(TopKTest, BadArguments) {
  EXPECT_THROW(top_k(zeros({4}), 1), Error);
  EXPECT_THROW(top_k(zeros({1, 4}), 0), Error);
}

// An .npz's model info beside it: written only where the model is no official one, read back
// into the model's width and groups, input size and loss; a damaged one is named.
TEST(NpzModelInfoTest, WhatAnNpzHasNoPlaceForGoesBesideIt) {
  BitResNetV2 model(tiny_config());
  const std::string npz = temp_path("info.npz"), info = temp_path("info.model.textproto");
  ASSERT_TRUE(save_bit_weights(model, npz).ok());
  absl::StatusOr<std::string> written = save_npz_model_info(npz, model.config(), "sigmoid", 48);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, info);
  absl::StatusOr<LoadedBitModel> loaded = load_bit_model_for_inference(npz, {});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->model->config().base_width, 4);
  EXPECT_EQ(loaded->model->config().num_groups, 2);
  EXPECT_EQ(loaded->input_resolution, 48);
  EXPECT_EQ(loaded->run_config, "loss: \"sigmoid\"\n");

  // A model info without widths leaves them to the flags.
  std::ofstream(info) << "loss: \"sigmoid\"";
  InferenceModelOptions narrowed;
  narrowed.base_width = 4;
  narrowed.num_groups = 2;
  ASSERT_TRUE(load_bit_model_for_inference(npz, narrowed).ok());
  // Without a loss it records a softmax head (bit_export's ONNX metadata says so).
  std::ofstream(info) << "input_resolution: 32";
  loaded = load_bit_model_for_inference(npz, narrowed);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->run_config, "loss: \"softmax\"\n");
  // An .npz of another size than the one it was written with: a stale model info.
  std::ofstream(info) << "base_width: 4 num_groups: 2 npz_bytes: 123";
  EXPECT_TRUE(fails_naming(load_bit_model_for_inference(npz, {}).status(),
                           {info, "was written for another", "of 123 bytes"}));
  // Rewritten for an official model, the .npz gets no model info: an earlier one goes.
  BitConfig official;
  official.head_size = 6;
  EXPECT_EQ(*save_npz_model_info(npz, official, "softmax", 0), "");
  EXPECT_FALSE(std::filesystem::exists(info));

  // Out-of-range values are named, not read as another model.
  for (const std::string& bad :
       {"base_width: -4", "num_groups: -2", "input_resolution: -1", "input_resolution: 65537"}) {
    std::ofstream(info) << bad;
    EXPECT_TRUE(fails_naming(load_bit_model_for_inference(npz, narrowed).status(),
                             {info, "input_resolution in [0, 65536]", bad}));
  }
  std::ofstream(info) << "input_resolution: 65536";
  EXPECT_TRUE(load_bit_model_for_inference(npz, narrowed).ok());
  std::ofstream(info) << "loss: \"hinge\"";
  EXPECT_TRUE(fails_naming(load_bit_model_for_inference(npz, {}).status(),
                           {info, "loss softmax or sigmoid", "hinge"}));
  std::ofstream(info) << "no such field: 1";
  EXPECT_TRUE(fails_naming(load_bit_model_for_inference(npz, {}).status(),
                           {info + ":1:4:", "no field named", "an NpzModelInfo textproto"}));
  std::filesystem::remove(info);
  std::filesystem::create_directory(info);
  EXPECT_TRUE(fails_naming(load_bit_model_for_inference(npz, {}).status(),
                           {info, "is not a regular file"}));
  std::filesystem::remove(info);
}

class PredictLogitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = std::make_shared<BitResNetV2>(tiny_config());
    Generator g(4);
    inputs_ = randn({7, 3, 32, 32}, DType::kFloat32, Device::cpu(), g);
  }

  BatchLoader loader() {
    return [this](int64_t begin, int64_t end) -> absl::StatusOr<Tensor> {
      const int64_t per = 3 * 32 * 32;
      Tensor out = empty({end - begin, 3, 32, 32});
      std::memcpy(out.mutable_data<float>(), inputs_.data<float>() + begin * per,
                  (end - begin) * per * sizeof(float));
      return out;
    };
  }

  std::shared_ptr<BitResNetV2> model_;
  Tensor inputs_;
};

TEST_F(PredictLogitsTest, BatchesGiveTheLogitsOfOneEvalForwardPass) {
  std::vector<std::vector<int64_t>> calls;
  PredictOptions options;
  options.batch_size = 3;
  options.progress = [&](int64_t done, int64_t total, double seconds) {
    EXPECT_GE(seconds, 0);
    calls.push_back({done, total});
  };
  auto logits = predict_logits(*model_, 7, loader(), options);
  ASSERT_TRUE(logits.ok()) << logits.status();
  EXPECT_EQ(logits->shape(), Shape({7, 6}));
  EXPECT_EQ(logits->dtype(), DType::kFloat32);
  EXPECT_FALSE(model_->is_training());
  EXPECT_FALSE(logits->requires_grad());
  EXPECT_EQ(calls, (std::vector<std::vector<int64_t>>{{3, 7}, {6, 7}, {7, 7}}));
  // Each sample is computed independently of its batch-mates (GroupNorm is per sample), but the
  // kernels oneDNN picks, and so the order of float sums, may depend on the batch size (and on
  // the CPU: 16-channel blocks with AVX-512). So the logits agree to float32 rounding on their
  // own scale.
  EXPECT_TRUE(testing::close_relative(*logits, model_->forward(inputs_), 1e-5));
}

TEST_F(PredictLogitsTest, AFloat64ModelTakesFloat32InputsAndGivesFloat32Logits) {
  model_->to(DType::kFloat64);
  auto logits = predict_logits(*model_, 7, loader());
  ASSERT_TRUE(logits.ok()) << logits.status();
  EXPECT_EQ(logits->dtype(), DType::kFloat32);
  model_->eval();
  EXPECT_TRUE(same_bits(*logits, model_->forward(inputs_.to(DType::kFloat64)).to(DType::kFloat32)));
}

TEST(MirrorImagesTest, ReversesEveryRowOfEveryChannel) {
  Generator g(5);
  const Tensor images = randn({2, 3, 4, 7}, DType::kFloat32, Device::cpu(), g);
  const Tensor mirror = mirror_images(images);
  ASSERT_EQ(mirror.shape(), images.shape());
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t c = 0; c < 3; ++c) {
      for (int64_t h = 0; h < 4; ++h) {
        for (int64_t w = 0; w < 7; ++w) {
          ASSERT_EQ(mirror.at<float>({n, c, h, w}), images.at<float>({n, c, h, 6 - w}));
        }
      }
    }
  }
  EXPECT_TRUE(same_bits(mirror_images(mirror), images));
  EXPECT_THROW(mirror_images(images.to(DType::kFloat64)), Error);
}

// PredictOptions::flip: each input's logits averaged with its mirror image's, so that an input
// and its mirror image get the same logits, to the bit.
TEST_F(PredictLogitsTest, FlipAveragesTheLogitsOfEachInputAndItsMirror) {
  PredictOptions options;
  options.batch_size = 3;
  options.flip = true;
  auto flipped = predict_logits(*model_, 7, loader(), options);
  ASSERT_TRUE(flipped.ok()) << flipped.status();
  model_->eval();
  const Tensor plain = model_->forward(inputs_);
  const Tensor expected = (plain + model_->forward(mirror_images(inputs_))) * 0.5;
  EXPECT_TRUE(testing::close_relative(*flipped, expected, 1e-5));
  EXPECT_FALSE(testing::close_relative(*flipped, plain, 1e-3));
  inputs_ = mirror_images(inputs_);
  auto of_mirrors = predict_logits(*model_, 7, loader(), options);
  ASSERT_TRUE(of_mirrors.ok()) << of_mirrors.status();
  EXPECT_TRUE(same_bits(*of_mirrors, *flipped));
}

TEST_F(PredictLogitsTest, LoaderErrorsAndBadBatchesComeBackAsStatuses) {
  auto failing = [](int64_t, int64_t) -> absl::StatusOr<Tensor> {
    return absl::DataLossError("img.png: truncated");
  };
  EXPECT_TRUE(fails_naming(predict_logits(*model_, 2, failing).status(), {"img.png: truncated"}));
  auto gray = [](int64_t begin, int64_t end) -> absl::StatusOr<Tensor> {
    return zeros({end - begin, 1, 8, 8});
  };
  EXPECT_TRUE(fails_naming(predict_logits(*model_, 2, gray).status(),
                           {"inputs 0..1", "(N, 3, H, W)"}));
  PredictOptions zero;
  zero.batch_size = 0;
  EXPECT_TRUE(fails_naming(predict_logits(*model_, 2, loader(), zero).status(),
                           {"batch size must be positive"}));
}

TEST(LoadForInferenceTest, SniffsNpzAndCheckpointFiles) {
  BitResNetV2 model(tiny_config());
  const std::string npz = temp_path("model.npz"), checkpoint = temp_path("model.ckpt");
  ASSERT_TRUE(save_bit_weights(model, npz).ok());
  TrainState state;
  state.model = &model;
  ASSERT_TRUE(save_train_state(checkpoint, state).ok());

  InferenceModelOptions options;
  options.base_width = 4;  // an .npz cannot record these
  options.num_groups = 2;
  for (const std::string& path : {npz, checkpoint}) {
    auto loaded = load_bit_model_for_inference(path, options);
    ASSERT_TRUE(loaded.ok()) << path << ": " << loaded.status();
    EXPECT_EQ(loaded->model->config().head_size, 6);
    const auto a = loaded->model->named_parameters(), b = model.named_parameters();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(same_bits(a[i].second, b[i].second));
  }
  options.model_name = "BiT-S-R101x1";
  EXPECT_TRUE(fails_naming(load_bit_model_for_inference(npz, options).status(), {npz, "R101x1"}));
  EXPECT_TRUE(fails_naming(load_bit_model_for_inference(checkpoint, options).status(),
                           {checkpoint, "R101x1"}));
  // A checkpoint records its width and groups: either flag given otherwise is refused.
  options.model_name = "";
  options.num_groups = 4;
  EXPECT_TRUE(fails_naming(load_bit_model_for_inference(checkpoint, options).status(),
                           {"--num_groups=4 given", "base width 4 with 2 groups"}));
  options.num_groups = 2;
  options.base_width = 8;
  EXPECT_TRUE(fails_naming(load_bit_model_for_inference(checkpoint, options).status(),
                           {"--base_width=8 given", "base width 4 with 2 groups"}));
  const std::string missing = temp_path("missing.npz");
  EXPECT_TRUE(absl::IsNotFound(load_bit_model_for_inference(missing, {}).status()));
}

}  // namespace
}  // namespace bitgrad
