// End-to-end tests of the bit_predict binary: it is run as a user would run it, on the tiny BiT
// of tools/golden (whose PyTorch logits are committed), and on bad inputs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "data/prediction_inputs.h"
#include "gtest/gtest.h"
#include "io/npy.h"
#include "models/bit_weights.h"
#include "models/train_state.h"
#include "ops/elementwise.h"
#include "tests/golden/golden.h"

namespace bitgrad {
namespace {

const std::string kWeights = "tests/golden/bit_tiny_r50.npz";
const std::string kTinyFlags = " --base_width=4 --num_groups=2";  // the golden model's knobs

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "/" + name; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

struct Result {
  int exit_code;
  std::string out, err;
};

Result run(const std::string& flags, const std::string& environment = "") {
  const std::string out = temp_path("stdout.txt"), err = temp_path("stderr.txt");
  const int status = std::system(
      (environment + " examples/bit_predict " + flags + " > " + out + " 2> " + err).c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(out), read_file(err)};
}

::testing::AssertionResult contains(const std::string& text,
                                    const std::vector<std::string>& fragments) {
  for (const std::string& fragment : fragments) {
    if (text.find(fragment) == std::string::npos) {
      return ::testing::AssertionFailure() << "\"" << text << "\" lacks \"" << fragment << "\"";
    }
  }
  return ::testing::AssertionSuccess();
}

// Fails with one "error:" line naming the problem and a HINT line.
void expect_failure(const Result& result, const std::vector<std::string>& fragments,
                    const std::string& hint) {
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_TRUE(contains(result.err, {"bit_predict: error: "}));
  EXPECT_TRUE(contains(result.err, fragments));
  EXPECT_TRUE(contains(result.err, {"HINT: " + hint}));
}

// The golden input batch as a plain .npy.
std::string golden_input() {
  const std::string path = temp_path("x.npy");
  golden::Fixture io("tests/golden/bit_tiny_r50_io.npz");
  EXPECT_TRUE(write_npy(path, io["x"]).ok());
  return path;
}

TEST(BitPredictTest, NpyBatchGivesPyTorchsLogits) {
  const std::string input = golden_input(), output = temp_path("logits.npy");
  Result result = run("--weights=" + kWeights + kTinyFlags + " --input=" + input +
                      " --output=" + output);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto logits = read_npy(output);
  ASSERT_TRUE(logits.ok()) << logits.status();
  EXPECT_EQ(logits->shape(), Shape({2, 5}));
  golden::Fixture io("tests/golden/bit_tiny_r50_io.npz");
  EXPECT_TRUE(golden::close(*logits, io["logits"], 3e-5));
  // The top-5 of each input, best first.
  EXPECT_TRUE(contains(result.out, {input + "[0]:\n  1. ", "  5. ", input + "[1]:\n"}));
  EXPECT_TRUE(contains(result.err, {"loaded 153 arrays", "wrote (2, 5) float32 logits"}));
}

// kWeights loaded the way kTinyFlags tells bit_predict to.
std::shared_ptr<BitResNetV2> tiny_model() {
  BitModelOptions options;
  options.base_width = 4;
  options.num_groups = 2;
  auto loaded = load_bit_model(kWeights, options);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return loaded.ok() ? loaded->model : nullptr;
}

// kWeights saved as a checkpoint named `name`, with `class_names` (none when empty),
// `input_resolution` (0: none) and the run's `config` (a RunConfig textproto).
std::string tiny_checkpoint(const std::string& name,
                            const std::vector<std::string>& class_names = {},
                            int64_t input_resolution = 0, const std::string& config = "") {
  const std::shared_ptr<BitResNetV2> model = tiny_model();
  TrainState state;
  state.model = model.get();
  state.class_names = class_names;
  state.input_resolution = input_resolution;
  state.config = config;
  const std::string path = temp_path(name);
  EXPECT_TRUE(model != nullptr && save_train_state(path, state).ok()) << path;
  return path;
}

TEST(BitPredictTest, ACheckpointGivesTheSameLogitsAsItsNpz) {
  const std::string input = golden_input();
  Result from_npz = run("--weights=" + kWeights + kTinyFlags + " --input=" + input +
                        " --output=" + temp_path("npz_logits.npy"));
  ASSERT_EQ(from_npz.exit_code, 0) << from_npz.err;
  const std::string checkpoint = tiny_checkpoint("tiny.ckpt");
  // No --base_width/--num_groups: the checkpoint records them.
  Result from_checkpoint = run("--weights=" + checkpoint + " --input=" + input +
                               " --output=" + temp_path("ckpt_logits.npy") + " --model=R50x1");
  ASSERT_EQ(from_checkpoint.exit_code, 0) << from_checkpoint.err;
  EXPECT_EQ(read_file(temp_path("ckpt_logits.npy")), read_file(temp_path("npz_logits.npy")));
  EXPECT_EQ(from_checkpoint.out, from_npz.out);
}

// The class name at the end of each "  1. " line of bit_predict's top-k list.
std::vector<std::string> top1_names(const std::string& out) {
  std::vector<std::string> names;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  1. ", 0) == 0) names.push_back(line.substr(line.rfind("  ") + 2));
  }
  return names;
}

TEST(BitPredictTest, ACheckpointNamesItsClassesUnlessLabelsSaysOtherwise) {
  const std::string input = golden_input();
  const std::vector<std::string> names = {"zero", "one", "two", "three", "four"};
  const std::string checkpoint = tiny_checkpoint("named.ckpt", names);

  Result named = run("--weights=" + checkpoint + " --input=" + input + " --top_k=1");
  ASSERT_EQ(named.exit_code, 0) << named.err;
  const std::vector<std::string> from_checkpoint = top1_names(named.out);
  ASSERT_EQ(from_checkpoint.size(), 2u) << named.out;  // two inputs
  for (const std::string& name : from_checkpoint) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << named.out;
  }

  const std::string labels = temp_path("upper.txt");
  std::ofstream(labels) << "ZERO\nONE\nTWO\nTHREE\nFOUR\n";
  Result relabeled =
      run("--weights=" + checkpoint + " --input=" + input + " --top_k=1 --labels=" + labels);
  ASSERT_EQ(relabeled.exit_code, 0) << relabeled.err;
  std::vector<std::string> expected;
  for (const std::string& name : from_checkpoint) expected.push_back(absl::AsciiStrToUpper(name));
  EXPECT_EQ(top1_names(relabeled.out), expected) << relabeled.out;
}

// bit_export --save_weights keeps a checkpoint's class names beside the .npz, as bit_finetune
// --save_weights does: an .npz has no place for them.
// (probability, logit) of each "  1. " line.
std::vector<std::pair<double, double>> top1_scores(const std::string& out) {
  std::vector<std::pair<double, double>> scores;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    double percent = 0, logit = 0;
    if (std::sscanf(line.c_str(), "  1. %lf%%  logit %lf", &percent, &logit) == 2) {
      scores.push_back({percent / 100, logit});
    }
  }
  return scores;
}

// What an .npz has no place for goes beside it: the class names, and the model info (the
// narrowed width and groups, the sigmoid loss, the input size), which bit_predict then reads.
TEST(BitPredictTest, AnExportedCheckpointKeepsWhatItRecordsBesideTheNpz) {
  const std::vector<std::string> names = {"zero", "one", "two", "three", "four"};
  const std::string checkpoint =
      tiny_checkpoint("export_me.ckpt", names, 48, "loss: \"sigmoid\"");
  const std::string npz = temp_path("exported.npz");
  const std::string said = temp_path("export.err");
  const int status = std::system(("examples/bit_export --weights=" + checkpoint + " --output=" +
                                  temp_path("exported.onnx") + " --save_weights=" + npz +
                                  " 2> " + said)
                                     .c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(said);
  EXPECT_EQ(read_file(temp_path("exported.labels.txt")), "zero\none\ntwo\nthree\nfour\n");
  EXPECT_EQ(read_file(temp_path("exported.model.textproto"))
                .rfind("base_width: 4\nnum_groups: 2\nloss: \"sigmoid\"\ninput_resolution: 48\n"
                       "npz_bytes: ",
                       0),
            0u);
  EXPECT_TRUE(contains(read_file(said),
                       {"its model info to " + temp_path("exported.model.textproto"),
                        "predict with bit_predict --weights=" + npz + " --labels=" +
                            temp_path("exported.labels.txt") + "\n"}));
  // Its outputs may not be its input, nor one file twice.
  for (const std::string& outputs : {" --output=" + checkpoint, " --output=" + npz +
                                                                    " --save_weights=" + npz}) {
    const std::string before = read_file(checkpoint);
    const int refused = std::system(
        ("examples/bit_export --weights=" + checkpoint + outputs + " 2>/dev/null").c_str());
    EXPECT_TRUE(WIFEXITED(refused) && WEXITSTATUS(refused) == 1) << outputs;
    EXPECT_EQ(read_file(checkpoint), before);
  }

  // No --base_width, --num_groups, --resolution or --labels: the model info gives the first
  // three and the loss, the labels file beside it the class names.
  Result named = run("--weights=" + npz + " --input=tests/data/testdata/rgb8.png --top_k=1");
  ASSERT_EQ(named.exit_code, 0) << named.err;
  EXPECT_TRUE(contains(named.err, {"resized to 48x48", "per-class sigmoids"})) << named.err;
  ASSERT_EQ(top1_names(named.out).size(), 1u) << named.out;
  for (const std::string& name : top1_names(named.out)) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << named.out;
  }
  for (const auto& [probability, logit] : top1_scores(named.out)) {
    EXPECT_NEAR(probability, 1 / (1 + std::exp(-logit)), 1e-4) << named.out;
  }
  Result other_width = run("--weights=" + npz + " --input=tests/data/testdata/rgb8.png " +
                           "--base_width=8");
  EXPECT_EQ(other_width.exit_code, 1);
  EXPECT_TRUE(contains(other_width.err, {"--base_width=8 given, but ",
                                         "exported.model.textproto beside ", "base width 4"}))
      << other_width.err;

  // bit_export of the .npz keeps its class names: the ONNX model's metadata holds them.
  const int again = std::system(("examples/bit_export --weights=" + npz + " --output=" +
                                 temp_path("again.onnx") + " 2> " + said)
                                    .c_str());
  ASSERT_TRUE(WIFEXITED(again) && WEXITSTATUS(again) == 0) << read_file(said);
  EXPECT_TRUE(contains(read_file(said), {"(5 classes, named)"})) << read_file(said);

  // Written again with an official model of unnamed classes, the .npz keeps nothing of the
  // last one beside it, which would misread it.
  const int official = std::system(("examples/bit_export --weights=random --model=BiT-S-R50x1 "
                                    "--output=" + temp_path("official.onnx") +
                                    " --save_weights=" + npz + " 2> " + said)
                                       .c_str());
  ASSERT_TRUE(WIFEXITED(official) && WEXITSTATUS(official) == 0) << read_file(said);
  EXPECT_FALSE(std::filesystem::exists(temp_path("exported.labels.txt")));
  EXPECT_FALSE(std::filesystem::exists(temp_path("exported.model.textproto")));

  // A random model narrowed by --base_width alone keeps the official 32 groups, too many for
  // its root width: the error names the flag to give, not an internal check's source line.
  const int narrowed = std::system(("examples/bit_export --weights=random --model=R50x1 "
                                    "--base_width=8 --output=" + temp_path("narrow.onnx") +
                                    " 2> " + said)
                                       .c_str());
  EXPECT_TRUE(WIFEXITED(narrowed) && WEXITSTATUS(narrowed) == 1) << read_file(said);
  EXPECT_TRUE(contains(read_file(said), {"error: --num_groups: 32 GroupNorm groups",
                                         "e.g. --num_groups=4"}));
  EXPECT_FALSE(contains(read_file(said), {".cc:"}));
}

// bit_export refuses what it would misuse or ignore: an ONNX model named .npz (read as an .npz
// later, it fails there), and --seed with a file, whose weights it does not initialise.
TEST(BitExportTest, RefusesAnNpzOutputAndASeedForAFile) {
  const std::string said = temp_path("export_flags.txt");
  const std::string model = " --weights=" + kWeights + kTinyFlags;
  const int npz = std::system(("examples/bit_export" + model + " --output=" +
                               temp_path("model.npz") + " 2> " + said).c_str());
  EXPECT_TRUE(WIFEXITED(npz) && WEXITSTATUS(npz) == 1) << read_file(said);
  EXPECT_TRUE(contains(read_file(said), {"error: --output=", "model.npz: is the ONNX model",
                                         "--save_weights"}));
  EXPECT_FALSE(std::filesystem::exists(temp_path("model.npz")));
  const int seed = std::system(("examples/bit_export" + model + " --seed=7 --output=" +
                                temp_path("seeded.onnx") + " 2> " + said).c_str());
  EXPECT_TRUE(WIFEXITED(seed) && WEXITSTATUS(seed) == 1) << read_file(said);
  EXPECT_TRUE(contains(read_file(said), {"error: --seed=7: initialises --weights=random only",
                                         "leave --seed out"}));
  EXPECT_FALSE(std::filesystem::exists(temp_path("seeded.onnx")));
}

TEST(BitPredictTest, ARunTrainedWithTheSigmoidLossGivesSigmoidProbabilities) {
  const std::string input = golden_input();
  for (const std::string loss : {"softmax", "sigmoid"}) {
    const std::string checkpoint =
        tiny_checkpoint(loss + ".ckpt", {}, 0, "loss: \"" + loss + "\"");
    Result result = run("--weights=" + checkpoint + " --input=" + input + " --top_k=1");
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const auto scores = top1_scores(result.out);
    ASSERT_EQ(scores.size(), 2u) << result.out;
    for (const auto& [probability, logit] : scores) {
      if (loss == "sigmoid") {
        EXPECT_NEAR(probability, 1 / (1 + std::exp(-logit)), 1e-4) << result.out;
      } else {
        EXPECT_GT(std::abs(probability - 1 / (1 + std::exp(-logit))), 1e-3) << result.out;
      }
    }
    EXPECT_EQ(contains(result.err, {"per-class sigmoids"}), loss == "sigmoid") << result.err;
  }
}

TEST(BitPredictTest, ACheckpointSetsTheInputSizeUnlessResolutionSaysOtherwise) {
  const std::string image = "tests/data/testdata/rgb8.png";
  const std::string checkpoint = tiny_checkpoint("sized.ckpt", {}, 48);
  Result recorded = run("--weights=" + checkpoint + " --input=" + image);
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  EXPECT_TRUE(contains(recorded.err, {"1 image file(s), resized to 48x48"})) << recorded.err;
  Result flag = run("--weights=" + checkpoint + " --input=" + image + " --resolution=64");
  ASSERT_EQ(flag.exit_code, 0) << flag.err;
  EXPECT_TRUE(contains(flag.err, {"resized to 64x64"})) << flag.err;
  // An .npz, or a checkpoint that does not record it: the HyperRule's size for small images.
  for (const std::string& weights : {kWeights + kTinyFlags, tiny_checkpoint("unsized.ckpt")}) {
    Result fallback = run("--weights=" + weights + " --input=" + image);
    ASSERT_EQ(fallback.exit_code, 0) << fallback.err;
    EXPECT_TRUE(contains(fallback.err, {"resized to 128x128"})) << fallback.err;
  }
}

TEST(BitPredictTest, ImagesWithLabels) {
  const std::string labels = temp_path("labels.txt");
  std::ofstream(labels) << "zero\none\ntwo\nthree\nfour\n";
  const std::string images = "tests/data/testdata/rgb8.png,tests/data/testdata/rgb.jpg";
  const std::string output = temp_path("image_logits.npy");
  Result result = run("--weights=" + kWeights + kTinyFlags + " --input=" + images +
                      " --resolution=32 --top_k=2 --labels=" + labels + " --output=" + output);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, {"tests/data/testdata/rgb8.png:\n  1. ", "  2. ",
                                    "tests/data/testdata/rgb.jpg:\n"}));
  EXPECT_EQ(result.out.find("  3. "), std::string::npos) << result.out;
  EXPECT_TRUE(contains(result.err, {"2 image file(s), resized to 32x32"}));
  // The same logits as the library calls, and every printed class has its name.
  const std::shared_ptr<BitResNetV2> model = tiny_model();
  ASSERT_NE(model, nullptr);
  auto inputs = PredictionInputs::open(images, 32);
  ASSERT_TRUE(inputs.ok());
  model->eval();
  const Tensor expected = model->forward(*inputs->batch(0, 2));
  auto logits = read_npy(output);
  ASSERT_TRUE(logits.ok());
  EXPECT_EQ(logits->to_vector<float>(), expected.to_vector<float>());
  int named = 0;
  for (const char* name : {"  zero\n", "  one\n", "  two\n", "  three\n", "  four\n"}) {
    for (size_t at = result.out.find(name); at != std::string::npos;
         at = result.out.find(name, at + 1)) {
      ++named;
    }
  }
  EXPECT_EQ(named, 4);  // 2 images x top 2
}

// One photo that does not decode costs its own prediction, not the others': they are printed
// and written (its logits NaN, no CSV rows), then the run fails naming it.
TEST(BitPredictTest, AnUnreadableImageCostsOnlyItsOwnPrediction) {
  const std::string folder = temp_path("one_cut");
  std::filesystem::create_directories(folder);
  std::filesystem::copy_file("tests/data/testdata/rgb8.png", folder + "/a.png",
                             std::filesystem::copy_options::overwrite_existing);
  const std::string jpeg = read_file("tests/data/testdata/rgb.jpg");
  std::ofstream(folder + "/b.jpg", std::ios::binary) << jpeg.substr(0, 300);
  std::filesystem::copy_file("tests/data/testdata/rgb8.png", folder + "/c.png",
                             std::filesystem::copy_options::overwrite_existing);
  const std::string csv = temp_path("one_cut.csv"), output = temp_path("one_cut.npy");
  Result result = run("--weights=" + kWeights + kTinyFlags + " --input=" + folder +
                      " --resolution=32 --batch=2 --top_k=1 --csv=" + csv + " --output=" + output);
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_TRUE(contains(result.err, {folder + "/b.jpg: truncated JPEG", "its logits are NaN",
                                    "1 of 3 inputs could not be read"}));
  EXPECT_TRUE(contains(result.out, {folder + "/a.png:\n  1. ", folder + "/b.jpg: unreadable",
                                    folder + "/c.png:\n  1. "}));
  auto logits = read_npy(output);
  ASSERT_TRUE(logits.ok()) << logits.status();
  ASSERT_EQ(logits->shape(), (Shape{3, 5}));
  const std::vector<float> values = logits->to_vector<float>();
  for (int64_t i = 0; i < 15; ++i) EXPECT_EQ(std::isnan(values[i]), i / 5 == 1) << i;
  const std::string rows = read_file(csv);
  EXPECT_NE(rows.find("a.png"), std::string::npos) << rows;
  EXPECT_EQ(rows.find("b.jpg"), std::string::npos) << rows;
  EXPECT_NE(rows.find("c.png"), std::string::npos) << rows;
}

// --csv: one row per input and rank, in the order of the logits (which --output keeps), with the
// softmax probability and the class name; a file name with a comma or a quote is quoted.
TEST(BitPredictTest, CsvHoldsTheTopKOfEveryInput) {
  const std::string labels = temp_path("csv_labels.txt");
  std::ofstream(labels) << "zero\none\ntwo\nthree\nfour\n";
  // --input splits at commas, so the odd names come from a folder.
  const std::string folder = temp_path("csv_images");
  std::filesystem::create_directories(folder);
  const std::vector<std::string> odd = {folder + "/a,\"b\".png", folder + "/c\"d\".png"};
  for (const std::string& name : odd) {
    std::filesystem::copy_file("tests/data/testdata/rgb8.png", name,
                               std::filesystem::copy_options::overwrite_existing);
  }
  const std::string images = "tests/data/testdata/rgb.jpg," + folder;
  const std::string csv = temp_path("top3.csv"), output = temp_path("csv_logits.npy");
  Result result = run("--weights=" + kWeights + kTinyFlags + " --input=" + images +
                      " --resolution=32 --top_k=3 --labels=" + labels + " --csv=" + csv +
                      " --output=" + output);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto logits = read_npy(output);
  ASSERT_TRUE(logits.ok());
  const std::vector<float> values = logits->to_vector<float>();
  const std::vector<std::string> names = {"zero", "one", "two", "three", "four"};
  std::string expected = "input,rank,class,name,probability,logit\n";
  std::vector<std::string> inputs = {"tests/data/testdata/rgb.jpg"};
  for (const std::string& name : odd) {
    inputs.push_back("\"" + absl::StrReplaceAll(name, {{"\"", "\"\""}}) + "\"");
  }
  std::vector<double> probabilities;
  for (size_t n = 0; n < inputs.size(); ++n) {
    const float* row = values.data() + n * 5;
    std::vector<int> order = {0, 1, 2, 3, 4};
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return row[a] > row[b]; });
    double total = 0;
    for (int c = 0; c < 5; ++c) total += std::exp(double{row[c]});
    for (int rank = 0; rank < 3; ++rank) {
      const int c = order[rank];
      expected += absl::StrCat(inputs[n], ",", rank + 1, ",", c, ",", names[c], ",");
      probabilities.push_back(std::exp(double{row[c]}) / total);
      expected += absl::StrFormat("P,%.9g\n", row[c]);
    }
  }
  // The probabilities compared to 1e-6, the rest as text.
  std::string written = read_file(csv);
  std::string masked;
  size_t next = 0;
  for (const std::string& line :
       std::vector<std::string>(absl::StrSplit(written, '\n', absl::SkipEmpty()))) {
    if (masked.empty()) {
      masked = line + "\n";
      continue;
    }
    const std::vector<std::string> fields = absl::StrSplit(line, ',');
    const double probability = std::stod(fields[fields.size() - 2]);
    ASSERT_LT(next, probabilities.size());
    EXPECT_NEAR(probability, probabilities[next++], 1e-6) << line;
    const size_t cut = line.rfind(',', line.rfind(',') - 1);
    masked += line.substr(0, cut + 1) + "P" + line.substr(line.rfind(',')) + "\n";
  }
  EXPECT_EQ(masked, expected);
  EXPECT_TRUE(contains(result.err, {"wrote the top 3 of 3 inputs to " + csv}));
  expect_failure(run("--weights=" + kWeights + kTinyFlags + " --input=" + images +
                     " --top_k=0 --csv=" + csv),
                 {"--csv", "--top_k >= 1"}, "leave --top_k out");
}

// --flip: each input's logits are the mean of its own and those of its left-right mirror.
TEST(BitPredictTest, FlipAveragesTheLogitsOfEachInputAndItsMirrorImage) {
  golden::Fixture io("tests/golden/bit_tiny_r50_io.npz");
  const Tensor& x = io["x"];
  Tensor mirrored = x.clone();
  const int64_t width = x.shape()[3];
  const float* in = x.data<float>();
  float* out = mirrored.mutable_data<float>();
  for (int64_t row = 0; row < x.numel() / width; ++row) {
    for (int64_t col = 0; col < width; ++col) {
      out[row * width + col] = in[row * width + width - 1 - col];
    }
  }
  const std::string input = golden_input(), mirror_input = temp_path("mirrored.npy");
  ASSERT_TRUE(write_npy(mirror_input, mirrored).ok());
  const auto logits_of = [&](const std::string& npy, const std::string& flags) {
    const std::string output = temp_path("flip_logits.npy");
    Result result = run("--weights=" + kWeights + kTinyFlags + " --input=" + npy +
                        " --top_k=0 --output=" + output + flags);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    auto logits = read_npy(output);
    EXPECT_TRUE(logits.ok()) << logits.status();
    return std::make_pair(logits.ok() ? *logits : Tensor(), result.err);
  };
  const auto [plain, plain_err] = logits_of(input, "");
  const auto [of_mirror, mirror_err] = logits_of(mirror_input, "");
  const auto [flipped, flip_err] = logits_of(input, " --flip");
  ASSERT_EQ(flipped.shape(), Shape({2, 5}));
  EXPECT_FALSE(golden::close(plain, of_mirror, 1e-4));  // the mirror image is another input
  EXPECT_TRUE(golden::close(flipped, (plain + of_mirror) * 0.5, 1e-6));
  EXPECT_TRUE(contains(flip_err, {"--flip"}));
  EXPECT_FALSE(contains(plain_err, {"--flip"}));
}

TEST(BitPredictTest, ShowsProgressOverSeveralBatches) {
  const std::string input = temp_path("five.npy");
  ASSERT_TRUE(write_npy(input, zeros({5, 3, 32, 32})).ok());
  Result result = run("--weights=" + kWeights + kTinyFlags + " --input=" + input +
                      " --batch=2 --top_k=0");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.err, {"2/5 inputs", "4/5 inputs", "5/5 inputs", "images/s"}));
  EXPECT_EQ(result.out, "");
  // One batch: nothing to follow.
  result = run("--weights=" + kWeights + kTinyFlags + " --input=" + input +
               " --batch=5 --top_k=0");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_FALSE(contains(result.err, {"images/s"})) << result.err;
}

// `bazel run` starts the program in its runfiles tree; relative paths, a --flagfile's too, are
// relative to where it was invoked (BUILD_WORKING_DIRECTORY).
TEST(BitPredictTest, RelativePathsAndFlagfileAreTheInvocationDirectorys) {
  golden_input();  // x.npy in TempDir
  const std::string weights = std::filesystem::absolute(kWeights).string();
  std::ofstream(temp_path("predict.flags")) << "--weights=" << weights << "\n--input=x.npy\n";
  const Result result = run("--flagfile=predict.flags --output=relative_logits.npy" + kTinyFlags,
                            "BUILD_WORKING_DIRECTORY=" + ::testing::TempDir());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(std::filesystem::exists(temp_path("relative_logits.npy")));
}

TEST(BitPredictTest, Errors) {
  const std::string input = golden_input();
  expect_failure(run(""), {"--weights and --input are required"}, "run bit_predict --help");
  expect_failure(run("--weights=missing/BiT-M-R50x1.npz --input=" + input),
                 {"missing/BiT-M-R50x1.npz: no such file"},
                 "download an official model, e.g. "
                 "https://storage.googleapis.com/bit_models/BiT-M-R50x1.npz");
  expect_failure(run("--weights=" + temp_path("") + " --input=" + input),
                 {"a folder; expected an official BiT .npz or a bitgrad checkpoint"},
                 "--weights takes");
  const std::string text = temp_path("not_a_model.txt");
  std::ofstream(text) << "hello\n";
  expect_failure(run("--weights=" + text + " --input=" + input),
                 {text, "cannot open as .npz"}, "--weights takes an official BiT .npz");
  expect_failure(run("--weights=" + kWeights + kTinyFlags + " --model=BiT-M-R101x1 --input=" +
                     input),
                 {"R101x1"}, "--weights takes an official BiT .npz");
  expect_failure(run("--weights=" + kWeights + " --input=" + input),
                 {"not a multiple of base_width 64"}, "--weights takes");
  // A batch of 3000 images resized to 2^16 x 2^16, the largest size taken: 154 TB, more than
  // the 128 TB a process can address on any machine, a user error to shrink.
  const std::string rgb8 = "tests/data/testdata/rgb8.png";
  std::string many = rgb8;
  for (int i = 1; i < 3000; ++i) many += "," + rgb8;
  expect_failure(run("--weights=" + kWeights + kTinyFlags + " --input=" + many +
                     " --batch=4096 --resolution=65536"),
                 {"out of CPU memory allocating"}, "lower --batch or --resolution");
  expect_failure(run("--weights=" + kWeights + kTinyFlags + " --input=" + rgb8 +
                     " --resolution=65537"),
                 {"--resolution=65537: expected a size in pixels from 32", "to 65536"},
                 "leave --resolution out");
  expect_failure(run("--weights=" + kWeights + kTinyFlags + " --input=" + rgb8 + " --top_k=-1"),
                 {"--top_k=-1: expected 0 (none) or more"}, "leave --top_k out (5)");
  expect_failure(run("--weights=" + kWeights + " --base_width=-1 --input=" + rgb8),
                 {"--base_width=-1: must be >= 0 (0: the official 64)"},
                 "leave --base_width and --num_groups out");
  expect_failure(run("--weights=" + kWeights + " --num_groups=-2 --input=" + rgb8),
                 {"--num_groups=-2: must be >= 0 (0: the official 32)"},
                 "leave --base_width and --num_groups out");
  expect_failure(run("--weights=" + kWeights + kTinyFlags + " --input=missing.png"),
                 {"missing.png: no such file"},
                 "--input takes comma-separated .jpg/.png/.webp files");
  const std::string gray = temp_path("gray.npy");
  ASSERT_TRUE(write_npy(gray, zeros({2, 1, 32, 32})).ok());
  expect_failure(run("--weights=" + kWeights + kTinyFlags + " --input=" + gray),
                 {gray, "(2, 1, 32, 32)", "expected (N, 3, H, W)"}, "--input takes");
  const std::string png = read_file("tests/data/testdata/rgb8.png");
  const std::string broken = temp_path("broken.png");
  std::ofstream(broken, std::ios::binary) << png.substr(0, png.size() / 2);
  expect_failure(run("--weights=" + kWeights + kTinyFlags + " --input=" + broken),
                 {broken}, "--input takes");
  const std::string three_labels = temp_path("three.txt");
  std::ofstream(three_labels) << "a\nb\nc\n";
  expect_failure(run("--weights=" + kWeights + kTinyFlags + " --input=" + input +
                     " --labels=" + three_labels),
                 {three_labels, "has 3 names, the model has 5 classes"},
                 "BiT-S and the BiT-M-*-ILSVRC2012 models have 1000 classes");
  // A checkpoint records its width and groups: others given are refused, not ignored.
  expect_failure(run("--weights=" + tiny_checkpoint("width.ckpt") + " --base_width=8 --input=" +
                     input),
                 {"--base_width=8 given", "holds a model of base width 4 with 2 groups"},
                 "--weights takes");
  // Output paths, --batch and --resolution are checked before the model is even read.
  expect_failure(run("--weights=missing.npz --input=" + input +
                     " --output=" + temp_path("no/such/dir/logits.npy")),
                 {"--output: cannot write", "no/such/dir/logits.npy", "does not exist"},
                 "--output must be a file in a folder you can write");
  expect_failure(run("--weights=missing.npz --input=" + input + " --csv=" + temp_path("")),
                 {"--csv: cannot write", "it is a folder"},
                 "--csv must be a file in a folder you can write");
  // An output over an input: the weights, or an input image, would be replaced by logits.
  const std::string weights = tiny_checkpoint("keep_me.ckpt");
  const std::string weights_before = read_file(weights);
  expect_failure(run("--weights=" + weights + " --input=" + input + " --output=" + weights),
                 {"--output: " + weights + " is the file --weights reads"},
                 "--output and --csv each take a new file of their own");
  EXPECT_EQ(read_file(weights), weights_before);
  expect_failure(run("--weights=" + weights + " --input=" + input + " --csv=" + input),
                 {"--csv: " + input + " is the file --input reads"},
                 "--output and --csv each take a new file of their own");
  for (const std::string batch : {"0", "1048577"}) {
    expect_failure(run("--weights=missing.npz --input=" + input + " --batch=" + batch),
                   {"--batch=" + batch + ": expected 1 to 1048576"}, "leave --batch out (16)");
  }
  expect_failure(run("--weights=missing.npz --input=" + input + " --resolution=-3"),
                 {"--resolution=-3: expected a size in pixels from 32"}, "leave --resolution out");
  expect_failure(run("--weights=missing.npz --input=" + input + " --resolution=7"),
                 {"--resolution=7: expected a size in pixels from 32"}, "leave --resolution out");
}

}  // namespace
}  // namespace bitgrad
