// --eval_only: a trained model evaluated as it is, with the numbers its run reported.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "models/checkpoint.h"
#include "models/predict.h"
#include "tests/data/temp_files.h"
#include "tests/train/finetune_binary.h"
#include "tests/testing/assertions.h"
#include "train/evaluate.h"
#include "train/model_init.h"
#include "train/run.h"
#include "train/run_config.h"
#include "train/run_config.pb.h"

namespace bitgrad {
namespace {

constexpr char kData[] = "npz:tests/train/testdata/finetune_golden_data.npz";  // 3 classes, 32 px

RunConfig tiny_run(const std::string& out) {
  RunConfig c = testing::tiny_golden_run();
  c.set_dataset(kData);
  c.set_steps(2);
  c.set_base_lr(0.1);
  c.set_augment("bit");
  c.set_workers(2);
  c.set_eval_batch(5);
  c.set_out(out);
  c.set_save_weights(out + "/final.npz");
  return c;
}

// An --eval_only run of `weights` on `dataset`.
RunConfig eval_only_run(const std::string& weights, const std::string& dataset) {
  RunConfig c = tiny_run("");
  c.set_save_weights("");
  c.set_weights(weights);
  c.set_dataset(dataset);
  c.set_eval_only(true);
  return c;
}

// The test set's 32x32 images as they are, `batch` at a time, by two loader threads.
EvalOptions at_32_px(int64_t batch) {
  EvalOptions options;
  options.resolution = 32;
  options.batch = batch;
  options.workers = 2;
  return options;
}

// `set`'s in-memory images mirrored left-right; with `symmetric`, each image's left half
// mirrored onto its right half instead, so that it is its own mirror image.
ImageSet mirrored(const ImageSet& set, bool symmetric = false) {
  ImageSet copy = set;
  const int64_t n = set.pixels.shape()[0], h = set.pixels.shape()[1];
  const int64_t w = set.pixels.shape()[2], c = set.pixels.shape()[3];
  copy.pixels = empty_like(set.pixels);
  const uint8_t* in = set.pixels.data<uint8_t>();
  uint8_t* out = copy.pixels.mutable_data<uint8_t>();
  for (int64_t row = 0; row < n * h; ++row) {
    for (int64_t x = 0; x < w; ++x) {
      const int64_t from = symmetric ? std::min(x, w - 1 - x) : w - 1 - x;
      std::copy_n(in + (row * w + from) * c, c, out + (row * w + x) * c);
    }
  }
  return copy;
}

// A fresh folder split into train/ and test/, each with the dataset's 3 classes ("0", "1", "2")
// of one image.
std::string split_folders(const std::string& name) {
  const std::string root = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(root);
  for (const std::string split : {"train", "test"}) {
    for (const std::string label : {"0", "1", "2"}) {
      std::filesystem::create_directories(root + "/" + split + "/" + label);
      std::filesystem::copy_file("tests/data/testdata/rgb8.png",
                                 root + "/" + split + "/" + label + "/image.png");
    }
  }
  return root;
}

class EvalOnlyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    out_ = ::testing::TempDir() + "/eval_only_test";
    std::filesystem::remove_all(out_);
    std::ostringstream log;
    absl::StatusOr<FinetuneResult> trained = run_finetune(tiny_run(out_), log);
    ASSERT_TRUE(trained.ok()) << trained.status() << "\n" << log.str();
    trained_ = trained->test;
  }

  // An --eval_only run of `weights`; its log in *log.
  absl::StatusOr<FinetuneResult> eval_only(const std::string& weights, int64_t resolution,
                                           std::string* log) {
    RunConfig c = eval_only_run(weights, kData);
    c.set_resolution(resolution);
    std::ostringstream out;
    absl::StatusOr<FinetuneResult> result = run_finetune(c, out);
    *log = out.str();
    return result;
  }

  std::string out_;
  EvalResult trained_;
};

TEST_F(EvalOnlyTest, TheCheckpointGivesTheRunsFinalNumbersAtItsResolution) {
  std::string log;
  // No --resolution: the checkpoint's 32 px, not the HyperRule's 128 for small images.
  absl::StatusOr<FinetuneResult> result = eval_only(out_ + "/checkpoint.ckpt", 0, &log);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->test.examples, trained_.examples);
  EXPECT_EQ(result->test.top1, trained_.top1);
  EXPECT_EQ(result->test.top5, trained_.top5);
  EXPECT_EQ(result->test.loss, trained_.loss);
  EXPECT_EQ(result->steps, 0);
  EXPECT_EQ(result->test.class_examples, trained_.class_examples);
  EXPECT_EQ(result->test.class_top1, trained_.class_top1);
  EXPECT_NE(log.find("eval: test top-1 "), std::string::npos) << log;
  EXPECT_EQ(result->test.head_classes, 3);
  EXPECT_EQ(log.find("top-5"), std::string::npos) << "100% for any 3-way head:\n" << log;
  EXPECT_NE(log.find("top-1 by class, weakest first:\n"), std::string::npos) << log;
  EXPECT_NE(log.find(" at 32x32"), std::string::npos) << log;
}

TEST_F(EvalOnlyTest, TheCountsByClassAddUpToTheTotals) {
  absl::StatusOr<Dataset> data = load_dataset_spec(*parse_dataset_spec(kData));
  ASSERT_TRUE(data.ok()) << data.status();
  std::vector<int64_t> labels_per_class(data->test.num_classes(), 0);
  for (int64_t label : data->test.labels) labels_per_class[label] += 1;
  EXPECT_EQ(trained_.class_examples, labels_per_class);
  ASSERT_EQ(trained_.class_top1.size(), labels_per_class.size());
  int64_t top1 = 0;
  for (size_t c = 0; c < labels_per_class.size(); ++c) {
    EXPECT_LE(trained_.class_top1[c], trained_.class_examples[c]);
    top1 += trained_.class_top1[c];
  }
  EXPECT_EQ(top1, std::llround(trained_.top1 * trained_.examples));
  // The confusion table: each example once in its label's row, the top-1 ones on the diagonal.
  const size_t k = labels_per_class.size();
  ASSERT_EQ(trained_.confusion.size(), k * k);
  for (size_t label = 0; label < k; ++label) {
    const auto row = trained_.confusion.begin() + label * k;
    EXPECT_EQ(std::accumulate(row, row + k, int64_t{0}), trained_.class_examples[label]);
    EXPECT_EQ(row[label], trained_.class_top1[label]);
  }
}

// A zeroed head gives every class the same logit: argmax's first maximum, class 0, is each
// example's top-1, so top-1 is class 0's share of the set, not 100%. A NaN scores nothing.
TEST_F(EvalOnlyTest, EqualLogitsRankInClassOrderAndANanIsNeverRight) {
  absl::StatusOr<LoadedBitModel> model =
      load_bit_model_for_inference(out_ + "/checkpoint.ckpt", InferenceModelOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  const auto set_head = [&](float weight, float bias) {
    for (auto& [name, parameter] : model->model->named_parameters()) {
      if (name != "head.conv.weight" && name != "head.conv.bias") continue;
      float* values = parameter.mutable_data<float>();
      std::fill(values, values + parameter.numel(), name == "head.conv.bias" ? bias : weight);
    }
  };
  absl::StatusOr<Dataset> data = load_dataset_spec(*parse_dataset_spec(kData));
  ASSERT_TRUE(data.ok()) << data.status();

  set_head(0, 0);
  absl::StatusOr<EvalResult> zero_head = evaluate(*model->model, data->test, at_32_px(5));
  ASSERT_TRUE(zero_head.ok()) << zero_head.status();
  const std::vector<int64_t>& examples = zero_head->class_examples;
  ASSERT_EQ(examples.size(), 3u);
  ASSERT_GT(examples[1] + examples[2], 0) << "the set must hold classes other than 0";
  EXPECT_DOUBLE_EQ(zero_head->top1, static_cast<double>(examples[0]) / zero_head->examples);
  EXPECT_EQ(zero_head->class_top1, std::vector<int64_t>({examples[0], 0, 0}));
  EXPECT_EQ(zero_head->confusion,
            std::vector<int64_t>({examples[0], 0, 0, examples[1], 0, 0, examples[2], 0, 0}));

  set_head(0, std::nanf(""));
  absl::StatusOr<EvalResult> diverged = evaluate(*model->model, data->test, at_32_px(5));
  ASSERT_TRUE(diverged.ok()) << diverged.status();
  EXPECT_EQ(diverged->top1, 0);
  EXPECT_EQ(diverged->top5, 0);
  EXPECT_EQ(diverged->class_top1, std::vector<int64_t>(3, 0));
  EXPECT_EQ(diverged->confusion, std::vector<int64_t>(9, 0));
}

// A head wider than the set's classes (an ImageNet model on a subset, say): top-5 ranks the
// label among all of the head's logits, and a top-1 outside the set's classes is in no row of
// the confusion table.
TEST_F(EvalOnlyTest, AHeadWiderThanTheClassesRanksAllItsLogits) {
  absl::StatusOr<LoadedBitModel> model =
      load_bit_model_for_inference(out_ + "/checkpoint.ckpt", InferenceModelOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  model->model->reset_head(8, /*zero=*/true);
  // The logits are the biases: classes 3, 4, 5, 6 rank first, then label 1 (5th), 0 and 2.
  const std::vector<float> biases = {2, 3, 1, 7, 6, 5, 4, 0};
  std::copy(biases.begin(), biases.end(), model->model->head->conv->bias.mutable_data<float>());
  absl::StatusOr<Dataset> data = load_dataset_spec(*parse_dataset_spec(kData));
  ASSERT_TRUE(data.ok()) << data.status();
  absl::StatusOr<EvalResult> result = evaluate(*model->model, data->test, at_32_px(5));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(model->model->is_training()) << "evaluate puts the model back in train mode";
  EXPECT_EQ(result->head_classes, 8);
  EXPECT_EQ(result->top1, 0);
  EXPECT_DOUBLE_EQ(result->top5, static_cast<double>(result->class_examples[1]) /
                                     result->examples);
  EXPECT_EQ(result->class_top1, std::vector<int64_t>(3, 0));
  EXPECT_EQ(result->confusion, std::vector<int64_t>(9, 0));
}

// A test image that does not decode (a JPEG cut short) fails the evaluation, naming it; no
// partial numbers.
TEST_F(EvalOnlyTest, AnImageThatDoesNotDecodeFailsTheEvaluation) {
  const std::string root = split_folders("eval_only_cut_image");
  testing::write_file(root + "/test/1/cut.jpg",
                      testing::read_file("tests/data/testdata/rgb.jpg").substr(0, 300));
  absl::StatusOr<LoadedBitModel> model =
      load_bit_model_for_inference(out_ + "/checkpoint.ckpt", InferenceModelOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<Dataset> data = load_dataset_spec(*parse_dataset_spec("folder:" + root));
  ASSERT_TRUE(data.ok()) << data.status();
  absl::StatusOr<EvalResult> result = evaluate(*model->model, data->test, at_32_px(1));
  ASSERT_FALSE(result.ok()) << result->examples << " examples evaluated";
  EXPECT_NE(result.status().message().find("cut.jpg"), std::string::npos) << result.status();
}

TEST(AccuracyTextTest, LeavesOutTopFiveWhereEveryModelScoresAHundredPercent) {
  EvalResult result;
  result.top1 = 0.8125;
  result.top5 = 0.99;
  result.head_classes = 6;
  EXPECT_EQ(accuracy_text(result), "top-1 81.25%, top-5 99.00%");
  result.top5 = 1;
  result.head_classes = 5;
  EXPECT_EQ(accuracy_text(result), "top-1 81.25%");
  result.flip = true;
  EXPECT_EQ(accuracy_text(result), "top-1 81.25% (flip-averaged)");
}

// After --resume the time and speed are of the updates this process made, and the line says so.
TEST(SummaryLineTest, SaysWhichUpdatesItsTimeCovers) {
  FinetuneResult result;
  result.test.top1 = 0.5;
  result.test.top5 = 1;
  result.test.head_classes = 3;
  result.test.examples = 60;
  result.steps = 400;
  result.train_seconds = 47;
  result.images_per_second = 47.9;
  EXPECT_EQ(summary_line(result),
            "test top-1 50.00% on 60 images; 400 updates, 0:47 training, 47.9 images/s");
  result.resumed_at = 120;
  EXPECT_EQ(summary_line(result), "test top-1 50.00% on 60 images; 400 updates (280 after "
                                  "resuming at 120), 0:47 training, 47.9 images/s");
  // Resumed from the final checkpoint: no time or speed to report (it said 0.0 images/s).
  result.resumed_at = 400;
  result.train_seconds = 0;
  result.images_per_second = 0;
  EXPECT_EQ(summary_line(result), "test top-1 50.00% on 60 images; 400 updates (0 after "
                                  "resuming at 400), none left to make");
  result.steps = 1;
  result.resumed_at = 0;
  EXPECT_EQ(summary_line(result),
            "test top-1 50.00% on 60 images; 1 update, 0:00 training, 0.0 images/s");
}

TEST(PerClassReportTest, ListsTheWeakestClassesFirstAndSaysHowManyAreLeftOut) {
  EvalResult result;
  result.class_examples = {10, 0, 4, 5, 8};
  result.class_top1 = {9, 0, 1, 5, 2};
  const std::vector<std::string> names = {"cat", "empty", "dog", "bird", "horse"};
  // dog and horse tie at 25%: class order. A class without examples is left out.
  EXPECT_EQ(per_class_report(result, names, 3),
            "top-1 by class, weakest first (3 of 4 shown):\n"
            "  dog     25.00%  of 4\n"
            "  horse   25.00%  of 8\n"
            "  cat     90.00%  of 10\n");
  EXPECT_EQ(per_class_report(result, names),
            "top-1 by class, weakest first:\n"
            "  dog     25.00%  of 4\n"
            "  horse   25.00%  of 8\n"
            "  cat     90.00%  of 10\n"
            "  bird   100.00%  of 5\n");
  // Names missing (a head wider than the set's class list) are numbered, not read past the end.
  EXPECT_EQ(per_class_report(result, {"cat"}, 1),
            "top-1 by class, weakest first (1 of 4 shown):\n  class 2   25.00%  of 4\n");
  EXPECT_EQ(per_class_report(EvalResult{}, names), "");
  // A name's characters, not its bytes, set the column: "é" is two bytes of UTF-8.
  EXPECT_EQ(per_class_report(result, {"cat", "", "café", "bird", "ours"}, 2),
            "top-1 by class, weakest first (2 of 4 shown):\n"
            "  café   25.00%  of 4\n"
            "  ours   25.00%  of 8\n");
  // Only the names shown set the column: a long one left out does not widen it.
  EXPECT_EQ(per_class_report(result, {"cat", "", "dog", "the best-recognised class", "horse"}, 2),
            "top-1 by class, weakest first (2 of 4 shown):\n"
            "  dog     25.00%  of 4\n"
            "  horse   25.00%  of 8\n");

  // With a confusion table: the (at most) two classes each was most often taken for.
  result.confusion.assign(25, 0);
  const std::vector<std::vector<int64_t>> rows = {
      {9, 0, 0, 1, 0}, {0, 0, 0, 0, 0}, {1, 0, 1, 0, 2}, {0, 0, 0, 5, 0}, {2, 0, 3, 1, 2}};
  for (size_t label = 0; label < rows.size(); ++label) {
    std::copy(rows[label].begin(), rows[label].end(), result.confusion.begin() + label * 5);
  }
  EXPECT_EQ(per_class_report(result, names),
            "top-1 by class, weakest first:\n"
            "  dog     25.00%  of 4  (as horse 50.00%, cat 25.00%)\n"
            "  horse   25.00%  of 8  (as dog 37.50%, cat 25.00%)\n"
            "  cat     90.00%  of 10  (as bird 10.00%)\n"
            "  bird   100.00%  of 5\n");
}

// --save_weights' model info beside the .npz records the input size the run evaluated at;
// without it, an .npz records none, and the HyperRule's for the images is taken.
TEST_F(EvalOnlyTest, AnNpzEvaluatesAtTheSizeItsModelInfoRecords) {
  std::string log;
  absl::StatusOr<FinetuneResult> recorded = eval_only(out_ + "/final.npz", 0, &log);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ(recorded->test.loss, trained_.loss);
  EXPECT_NE(log.find(" at 32x32"), std::string::npos) << log;
  std::filesystem::remove(out_ + "/final.model.textproto");
  absl::StatusOr<FinetuneResult> at_32 = eval_only(out_ + "/final.npz", 32, &log);
  ASSERT_TRUE(at_32.ok()) << at_32.status();
  EXPECT_EQ(at_32->test.loss, trained_.loss);
  absl::StatusOr<FinetuneResult> hyperrule = eval_only(out_ + "/final.npz", 0, &log);
  ASSERT_TRUE(hyperrule.ok()) << hyperrule.status();
  EXPECT_NE(log.find(" at 128x128"), std::string::npos) << log;
}

TEST_F(EvalOnlyTest, ALongEvaluationShowsProgressBeforeItsLastBatch) {
  absl::StatusOr<LoadedBitModel> model =
      load_bit_model_for_inference(out_ + "/checkpoint.ckpt", InferenceModelOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<DatasetSpec> spec = parse_dataset_spec(kData);
  ASSERT_TRUE(spec.ok());
  absl::StatusOr<Dataset> data = load_dataset_spec(*spec);
  ASSERT_TRUE(data.ok()) << data.status();
  const int64_t batches = (data->test.size() + 1) / 2;
  ASSERT_GE(batches, 2);
  std::ostringstream lines;
  // every_seconds = 0: a line after every batch but the last.
  EvalOptions options = at_32_px(2);
  options.progress = {&lines, 0};
  absl::StatusOr<EvalResult> result = evaluate(*model->model, data->test, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NEAR(result->loss, trained_.loss, 1e-5 * trained_.loss);  // batches of 2, not 5
  EXPECT_NE(lines.str().find(absl::StrCat("eval: batch 1/", batches, ", ")), std::string::npos)
      << lines.str();
  EXPECT_NE(lines.str().find("images/s, ETA "), std::string::npos) << lines.str();
  EXPECT_EQ(lines.str().find(absl::StrCat("batch ", batches, "/", batches)), std::string::npos)
      << lines.str();
  // The default interval: a fast evaluation says nothing.
  std::ostringstream quiet;
  options.progress = {&quiet};
  ASSERT_TRUE(evaluate(*model->model, data->test, options).ok());
  EXPECT_EQ(quiet.str(), "");
}

TEST_F(EvalOnlyTest, TheLossIsTheOneTheRunTrainedWith) {
  // A zero head: every logit is 0, so softmax cross-entropy is log 3 and the sigmoid one
  // 3 log 2 (three binary classifiers at 1/2).
  absl::StatusOr<LoadedBitModel> model =
      load_bit_model_for_inference(out_ + "/checkpoint.ckpt", InferenceModelOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  for (auto& [name, parameter] : model->model->named_parameters()) {
    if (name.rfind("head.conv.", 0) == 0) parameter.zero_();
  }
  absl::StatusOr<Dataset> data = load_dataset_spec(*parse_dataset_spec(kData));
  ASSERT_TRUE(data.ok()) << data.status();
  EvalOptions options = at_32_px(5);
  options.loss_of = cross_entropy;
  absl::StatusOr<EvalResult> softmax = evaluate(*model->model, data->test, options);
  options.loss_of = sigmoid_cross_entropy;
  absl::StatusOr<EvalResult> sigmoid = evaluate(*model->model, data->test, options);
  ASSERT_TRUE(softmax.ok() && sigmoid.ok());
  EXPECT_NEAR(softmax->loss, std::log(3.0), 1e-6);
  EXPECT_NEAR(sigmoid->loss, 3 * std::log(2.0), 1e-6);

  // A run with --loss=sigmoid says so, and --eval_only of its checkpoint repeats its loss, with
  // --loss left out or the same; evaluated with softmax, it does not.
  const std::string out = out_ + "_sigmoid";
  std::filesystem::remove_all(out);
  RunConfig c = tiny_run(out);
  c.set_loss("sigmoid");
  std::ostringstream log;
  absl::StatusOr<FinetuneResult> trained = run_finetune(c, log);
  ASSERT_TRUE(trained.ok()) << trained.status() << "\n" << log.str();
  EXPECT_NE(log.str().find(", sigmoid loss"), std::string::npos) << log.str();
  RunConfig evaluation = tiny_run("");
  evaluation.set_save_weights("");
  evaluation.set_weights(out + "/checkpoint.ckpt");
  evaluation.set_eval_only(true);
  evaluation.clear_loss();
  std::ostringstream quiet;
  absl::StatusOr<FinetuneResult> again = run_finetune(evaluation, quiet);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->test.loss, trained->test.loss);
  EXPECT_NE(quiet.str().find("the loss is the sigmoid one"), std::string::npos) << quiet.str();
  evaluation.set_loss("sigmoid");
  again = run_finetune(evaluation, quiet);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->test.loss, trained->test.loss);
  evaluation.set_loss("softmax");
  absl::StatusOr<FinetuneResult> other = run_finetune(evaluation, quiet);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE(other->test.loss, trained->test.loss);
}

// (Beside the loss test, since it needs a checkpoint too: initial_model's head under each loss.)
TEST_F(EvalOnlyTest, ANewHeadUnderTheSigmoidLossStartsEachClassAtOneInK) {
  for (const std::string& weights : {std::string("random"), out_ + "/checkpoint.ckpt"}) {
    for (const std::string loss : {"softmax", "sigmoid"}) {
      RunConfig c = tiny_run("");
      c.set_weights(weights);
      c.set_zero_head(true);
      c.set_loss(loss);
      absl::StatusOr<LoadedBitModel> model = initial_model(c, {"0", "1", "2"});
      ASSERT_TRUE(model.ok()) << model.status();
      const double want = loss == "sigmoid" ? -std::log(2.0) : 0.0;  // -log(K - 1)
      for (float bias : model->model->head->conv->bias.to_vector<float>()) {
        EXPECT_NEAR(bias, want, 1e-6) << weights << ", " << loss;
      }
      EXPECT_EQ(model->message.find("starts at 1/3") != std::string::npos, loss == "sigmoid")
          << model->message;
    }
  }
}

// A checkpoint names its classes: as many classes under other names (a renamed folder reorders
// them) would score each class with another's head row. Evaluating refuses them; fine-tuning
// starts a zero head, as for another class count.
TEST_F(EvalOnlyTest, OtherClassesOfTheSameCountAreNotTheCheckpointsHead) {
  // The run's checkpoint, its classes named (its npz dataset has index names only: "0" .. "2").
  absl::StatusOr<Checkpoint> checkpoint = load_checkpoint(out_ + "/checkpoint.ckpt");
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  checkpoint->class_names = {"bird", "cat", "dog"};
  const std::string named = out_ + "/named.ckpt";
  ASSERT_TRUE(save_checkpoint(named, *checkpoint).ok());
  RunConfig c = tiny_run("");
  c.set_weights(named);
  c.set_eval_only(true);
  absl::StatusOr<LoadedBitModel> same = initial_model(c, {"bird", "cat", "dog"});
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->message.find("zero"), std::string::npos) << same->message;
  // Index names tell nothing: a copy of the data without its names file.
  EXPECT_TRUE(initial_model(c, {"0", "1", "2"}).ok());

  absl::StatusOr<LoadedBitModel> renamed = initial_model(c, {"bird", "cat", "kitten"});
  ASSERT_FALSE(renamed.ok());
  EXPECT_NE(renamed.status().message().find("other classes than --dataset's (class 2 is "
                                            "\"dog\" there and \"kitten\" here)"),
            std::string::npos)
      << renamed.status();

  c.set_eval_only(false);
  absl::StatusOr<LoadedBitModel> fine_tuned = initial_model(c, {"bird", "cat", "kitten"});
  ASSERT_TRUE(fine_tuned.ok()) << fine_tuned.status();
  EXPECT_NE(fine_tuned->message.find("replaced by a zero 3-way one (the file's classes are "
                                     "other ones: class 2"),
            std::string::npos)
      << fine_tuned->message;
  for (float w : fine_tuned->model->head->conv->weight.to_vector<float>()) ASSERT_EQ(w, 0.0f);
}

// A folder dataset says which of its files it passed over, before it is used.
TEST_F(EvalOnlyTest, AFolderDatasetNamesTheFilesItPassesOver) {
  const std::string root = split_folders("eval_only_folder");
  testing::write_file(root + "/train/1/photo.bmp", "not read");
  RunConfig c = eval_only_run(out_ + "/checkpoint.ckpt", "folder:" + root);
  std::ostringstream out;
  absl::StatusOr<FinetuneResult> result = run_finetune(c, out);
  ASSERT_TRUE(result.ok()) << result.status() << "\n" << out.str();
  EXPECT_EQ(result->test.examples, 3);
  EXPECT_NE(out.str().find("note: " + root + "/train: passed over 1 file that is not .jpg, .jpeg, "
                           ".png or .webp: 1/photo.bmp\n"),
            std::string::npos)
      << out.str();
  EXPECT_EQ(out.str().find(root + "/test: passed over"), std::string::npos) << out.str();
}

// A fresh folder of class folders, the dataset's 3 classes ("0", "1", "2") of 4 images each,
// with no train/ and test/.
std::string class_folders(const std::string& name) {
  const std::string root = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(root);
  for (const std::string label : {"0", "1", "2"}) {
    std::filesystem::create_directories(root + "/" + label);
    for (const std::string image : {"a", "b", "c", "d"}) {
      std::filesystem::copy_file("tests/data/testdata/rgb8.png",
                                 root + "/" + label + "/" + image + ".png");
    }
  }
  return root;
}

// A folder of class folders, split by --test_fraction: the run says how many it held out, and
// evaluates those.
TEST_F(EvalOnlyTest, ATestFractionSplitsAFolderOfClassFolders) {
  const std::string root = class_folders("eval_only_class_folders");
  RunConfig c = eval_only_run(out_ + "/checkpoint.ckpt", "folder:" + root);
  c.set_test_fraction(0.5);
  std::ostringstream out;
  absl::StatusOr<FinetuneResult> result = run_finetune(c, out);
  ASSERT_TRUE(result.ok()) << result.status() << "\n" << out.str();
  EXPECT_EQ(result->test.examples, 6);
  EXPECT_EQ(result->test.class_examples, (std::vector<int64_t>{2, 2, 2}));
  EXPECT_NE(out.str().find("test split: 6 of the 12 images in " + root +
                           " held out (--test_fraction=0.5, picked by file name"),
            std::string::npos)
      << out.str();
}

// A checkpoint of a run that split a folder with --test_fraction is evaluated on the same split:
// another fraction would test it on images it trained on.
TEST_F(EvalOnlyTest, ACheckpointIsTestedOnTheImagesItsRunHeldOut) {
  const std::string root = class_folders("eval_only_held_out");
  const std::string out = out_ + "_held_out";
  std::filesystem::remove_all(out);
  RunConfig train = tiny_run(out);
  train.set_dataset("folder:" + root);
  train.set_test_fraction(0.25);
  std::ostringstream log;
  ASSERT_TRUE(run_finetune(train, log).ok()) << log.str();

  RunConfig evaluation = eval_only_run(out + "/checkpoint.ckpt", "folder:" + root);
  evaluation.set_test_fraction(0.5);
  std::ostringstream ignored;
  absl::StatusOr<FinetuneResult> other = run_finetune(evaluation, ignored);
  EXPECT_TRUE(testing::fails_naming(
      other.status(), {"--test_fraction=0.5", out + "/checkpoint.ckpt", "--test_fraction=0.25",
                       "images it did not train on"}));
  evaluation.set_test_fraction(0.25);
  absl::StatusOr<FinetuneResult> same = run_finetune(evaluation, ignored);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->test.examples, 3);
  // Left out, the fraction is the run's (a folder without train/ and test/ needs one).
  evaluation.set_test_fraction(0);
  std::ostringstream adopted_log;
  absl::StatusOr<FinetuneResult> adopted = run_finetune(evaluation, adopted_log);
  ASSERT_TRUE(adopted.ok()) << adopted.status();
  EXPECT_EQ(adopted->test.examples, 3);
  EXPECT_EQ(adopted->test.top1, same->test.top1);
  EXPECT_NE(adopted_log.str().find("eval: --test_fraction=0.25, as " + out +
                                   "/checkpoint.ckpt's run split " + root),
            std::string::npos)
      << adopted_log.str();
  // A folder split into train/ and test/ already says which images to test on.
  const std::string split = split_folders("eval_only_held_out_split");
  std::ostringstream split_log;
  absl::StatusOr<FinetuneResult> on_split =
      run_finetune(eval_only_run(out + "/checkpoint.ckpt", "folder:" + split), split_log);
  ASSERT_TRUE(on_split.ok()) << on_split.status();
  EXPECT_EQ(on_split->test.examples, 3);
  EXPECT_EQ(split_log.str().find("--test_fraction"), std::string::npos) << split_log.str();
}

// --eval_flip averages each image's logits with its mirror image's: a test set and its mirror
// image score the same, to the bit, and images that are their own mirror score as without it.
TEST_F(EvalOnlyTest, TheFlipEvaluationAveragesEachImageWithItsMirror) {
  absl::StatusOr<LoadedBitModel> model =
      load_bit_model_for_inference(out_ + "/checkpoint.ckpt", InferenceModelOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<Dataset> data = load_dataset_spec(*parse_dataset_spec(kData));
  ASSERT_TRUE(data.ok()) << data.status();
  const auto evaluated = [&](const ImageSet& set, bool flip) {
    EvalOptions options = at_32_px(5);
    options.flip = flip;
    absl::StatusOr<EvalResult> result = evaluate(*model->model, set, options);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : EvalResult{};
  };
  const ImageSet mirror = mirrored(data->test);
  const EvalResult plain = evaluated(data->test, false), flipped = evaluated(data->test, true);
  ASSERT_NE(evaluated(mirror, false).loss, plain.loss) << "the mirror images must matter";
  EXPECT_NE(flipped.loss, plain.loss);
  const EvalResult mirror_flipped = evaluated(mirror, true);
  EXPECT_EQ(mirror_flipped.loss, flipped.loss);
  EXPECT_EQ(mirror_flipped.class_top1, flipped.class_top1);
  EXPECT_EQ(mirror_flipped.confusion, flipped.confusion);

  const ImageSet symmetric = mirrored(data->test, true);
  EXPECT_EQ(evaluated(symmetric, true).loss, evaluated(symmetric, false).loss);

  // The flag reaches the evaluation.
  RunConfig c = eval_only_run(out_ + "/checkpoint.ckpt", kData);
  c.set_eval_flip(true);
  std::ostringstream log;
  absl::StatusOr<FinetuneResult> run = run_finetune(c, log);
  ASSERT_TRUE(run.ok()) << run.status() << "\n" << log.str();
  EXPECT_EQ(run->test.loss, flipped.loss);
  EXPECT_NE(log.str().find("% (flip-averaged), loss "), std::string::npos) << log.str();
}

TEST_F(EvalOnlyTest, RefusesWhatCannotBeEvaluated) {
  RunConfig random = tiny_run("");
  random.set_eval_only(true);
  absl::Status status = check_run_config(random);
  EXPECT_NE(status.message().find("--eval_only: needs trained --weights"), std::string::npos)
      << status;
  RunConfig zeroed = tiny_run("");
  zeroed.set_weights(out_ + "/checkpoint.ckpt");
  zeroed.set_eval_only(true);
  zeroed.set_zero_head(true);
  status = check_run_config(zeroed);
  EXPECT_NE(status.message().find("--zero_head: would zero the head"), std::string::npos)
      << status;
  RunConfig writing = zeroed;
  writing.set_zero_head(false);
  writing.set_out(out_ + "/again");
  status = check_run_config(writing);
  EXPECT_NE(status.message().find("--out: --eval_only trains nothing and writes nothing"),
            std::string::npos)
      << status;
  // The golden tiny model has a 5-way head; the data has 3 classes.
  absl::StatusOr<FinetuneResult> mismatched = [&] {
    RunConfig c = tiny_run("");
    c.set_save_weights("");
    c.set_weights("tests/golden/bit_tiny_r50.npz");
    c.set_eval_only(true);
    std::ostringstream out;
    return run_finetune(c, out);
  }();
  ASSERT_FALSE(mismatched.ok());
  EXPECT_NE(mismatched.status().message().find("bit_tiny_r50.npz has a 5-way head and the "
                                               "dataset 3 classes"),
            std::string::npos)
      << mismatched.status();
}

}  // namespace
}  // namespace bitgrad
