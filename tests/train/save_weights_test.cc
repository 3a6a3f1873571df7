// --save_weights: the official-layout .npz, and beside it the class names and model info an
// .npz cannot hold;
// and what the run says about its checkpoints.
#include <filesystem>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "data/labels.h"
#include "gtest/gtest.h"
#include "io/npz.h"
#include "tests/train/finetune_binary.h"
#include "train/model_init.h"
#include "train/run.h"
#include "train/run_config.pb.h"

namespace bitgrad {
namespace {

TEST(SaveWeightsTest, TheClassNamesGoBesideTheNpz) {
  const std::string out = ::testing::TempDir() + "/save_weights_test";
  std::filesystem::remove_all(out);
  RunConfig c = testing::tiny_golden_run();  // classes "0", "1", "2"
  c.set_out(out);
  c.set_save_weights(out + "/final.npz");
  std::ostringstream log;
  absl::StatusOr<FinetuneResult> result = run_finetune(c, log);
  ASSERT_TRUE(result.ok()) << result.status() << "\n" << log.str();

  absl::StatusOr<NamedArrays> weights = read_npz(out + "/final.npz");
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_EQ(weights->size(), 153u);
  absl::StatusOr<std::vector<std::string>> names = read_label_names(out + "/final.labels.txt");
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_EQ(*names, std::vector<std::string>({"0", "1", "2"}));
  EXPECT_NE(log.str().find("class names: " + out + "/final.labels.txt"), std::string::npos)
      << log.str();
  // What an .npz has no place for, the input size and the narrowed width, goes beside it too.
  EXPECT_EQ(testing::read_file(out + "/final.model.textproto"),
            absl::StrCat("base_width: 4\nnum_groups: 2\ninput_resolution: 32\nnpz_bytes: ",
                         std::filesystem::file_size(out + "/final.npz"), "\n"));
  EXPECT_NE(log.str().find(", model info: " + out + "/final.model.textproto; predict with "
                           "bit_predict --weights=" + out + "/final.npz --labels=" + out +
                           "/final.labels.txt\n"),
            std::string::npos)
      << log.str();
  EXPECT_EQ(log.str().find("is not kept"), std::string::npos) << log.str();
  // The run ends with where it fell short, as --eval_only does.
  EXPECT_NE(log.str().find("\ntop-1 by class, weakest first:\n"), std::string::npos)
      << log.str();
  // Without --eval_every the one checkpoint is the last, and the run says so up front.
  EXPECT_NE(log.str().find("checkpoint: " + out + "/checkpoint.ckpt at the end only"),
            std::string::npos)
      << log.str();
}

// The start-up line says how often the run writes its checkpoint.
TEST(SaveWeightsTest, TheRunSaysWhenItWritesItsCheckpoint) {
  const std::string out = ::testing::TempDir() + "/checkpoint_line_test";
  for (const auto& [every, line] : std::vector<std::pair<int, std::string>>{
           {1, "/checkpoint.ckpt after every update\n"},
           {2, "/checkpoint.ckpt every 2 updates and at the end\n"}}) {
    std::filesystem::remove_all(out);
    RunConfig c = testing::tiny_golden_run();
    c.set_out(out);
    c.set_eval_every(every);
    std::ostringstream log;
    ASSERT_TRUE(run_finetune(c, log).ok()) << log.str();
    EXPECT_NE(log.str().find("checkpoint: " + out + line), std::string::npos) << log.str();
  }
}

// A run that keeps nothing says so before it trains.
TEST(SaveWeightsTest, ARunWithoutOutOrSaveWeightsSaysItKeepsNothing) {
  std::ostringstream log;
  ASSERT_TRUE(run_finetune(testing::tiny_golden_run(), log).ok()) << log.str();
  const size_t note = log.str().find("note: without --out or --save_weights the trained model "
                                     "is not kept\n");
  ASSERT_NE(note, std::string::npos) << log.str();
  EXPECT_LT(note, log.str().find("training: ")) << log.str();
}

// Fine-tuning from an .npz reads its class names from the labels file beside it, as from a
// checkpoint: the head is kept for the same classes and replaced for others of the same count.
TEST(SaveWeightsTest, AnNpzsClassesComeFromTheLabelsFileBesideIt) {
  const std::string dir = ::testing::TempDir() + "/npz_classes_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file("tests/train/testdata/finetune_golden_data.npz", dir + "/data.npz");
  ASSERT_TRUE(write_label_names(dir + "/data.labels.txt", {"ant", "bee", "cat"}).ok());
  RunConfig c = testing::tiny_golden_run();
  c.set_dataset("npz:" + dir + "/data.npz");
  c.set_save_weights(dir + "/final.npz");
  std::ostringstream log;
  ASSERT_TRUE(run_finetune(c, log).ok()) << log.str();

  c.set_weights(dir + "/final.npz");
  c.set_save_weights("");
  const auto model_line = [&](const RunConfig& run) {
    std::ostringstream out;
    absl::StatusOr<FinetuneResult> result = run_finetune(run, out);
    if (!result.ok()) return std::string(result.status().message());
    const std::string text = out.str();
    const size_t start = text.find("model: ");
    return text.substr(start, text.find('\n', start) - start);
  };
  std::string line = model_line(c);
  EXPECT_NE(line.find("its classes from " + dir + "/final.labels.txt"), std::string::npos) << line;
  EXPECT_EQ(line.find("replaced"), std::string::npos) << line;

  ASSERT_TRUE(write_label_names(dir + "/final.labels.txt", {"cat", "bee", "ant"}).ok());
  line = model_line(c);
  EXPECT_NE(line.find("replaced by a zero 3-way one (the file's classes are other ones: class 0 "
                      "is \"cat\" there and \"ant\" here)"),
            std::string::npos)
      << line;
  RunConfig eval = c;
  eval.set_eval_only(true);
  line = model_line(eval);
  EXPECT_NE(line.find("was trained on other classes than --dataset's"), std::string::npos)
      << line;

  ASSERT_TRUE(write_label_names(dir + "/final.labels.txt", {"ant", "bee"}).ok());
  line = model_line(c);
  EXPECT_NE(line.find("--weights: " + dir + "/final.labels.txt beside " + dir +
                      "/final.npz names 2 classes, its head has 3 outputs"),
            std::string::npos)
      << line;
}

// A model whose classes are not known (bit_export of an .npz without a labels file) is saved
// without names: an earlier model's labels file there would be read as this one's.
TEST(SaveWeightsTest, AModelWithoutClassNamesLeavesNoLabelsFileBesideIt) {
  const std::string dir = ::testing::TempDir() + "/unnamed_weights_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  absl::StatusOr<LoadedBitModel> model = initial_model(testing::tiny_golden_run(), {"a", "b", "c"});
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string npz = dir + "/model.npz";
  absl::StatusOr<SavedWeights> named =
      save_weights_and_class_names(*model->model, npz, {"a", "b", "c"}, "", 32);
  ASSERT_TRUE(named.ok()) << named.status();
  ASSERT_TRUE(std::filesystem::exists(named->labels)) << named->labels;
  EXPECT_EQ(bit_predict_command(npz, named->labels),
            "bit_predict --weights=" + npz + " --labels=" + named->labels);

  absl::StatusOr<SavedWeights> unnamed =
      save_weights_and_class_names(*model->model, npz, {}, "", 32);
  ASSERT_TRUE(unnamed.ok()) << unnamed.status();
  EXPECT_EQ(unnamed->labels, "");
  EXPECT_FALSE(std::filesystem::exists(named->labels));
  EXPECT_EQ(bit_predict_command(npz, unnamed->labels), "bit_predict --weights=" + npz);
}

}  // namespace
}  // namespace bitgrad
