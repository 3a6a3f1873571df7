// End-to-end tests of the bit_predict binary: it is run as a user would run it, on the tiny BiT
// of tools/golden (whose PyTorch logits are committed), and on bad inputs.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "data/prediction_inputs.h"
#include "gtest/gtest.h"
#include "io/npy.h"
#include "models/bit_weights.h"
#include "models/train_state.h"
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

Result run(const std::string& flags) {
  const std::string out = temp_path("stdout.txt"), err = temp_path("stderr.txt");
  const int status =
      std::system(("examples/bit_predict " + flags + " > " + out + " 2> " + err).c_str());
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

TEST(BitPredictTest, ACheckpointGivesTheSameLogitsAsItsNpz) {
  const std::string input = golden_input();
  Result from_npz = run("--weights=" + kWeights + kTinyFlags + " --input=" + input +
                        " --output=" + temp_path("npz_logits.npy"));
  ASSERT_EQ(from_npz.exit_code, 0) << from_npz.err;
  BitModelOptions options;
  options.base_width = 4;
  options.num_groups = 2;
  auto loaded = load_bit_model(kWeights, options);
  ASSERT_TRUE(loaded.ok());
  TrainState state;
  state.model = loaded->model.get();
  const std::string checkpoint = temp_path("tiny.ckpt");
  ASSERT_TRUE(save_train_state(checkpoint, state).ok());
  // No --base_width/--num_groups: the checkpoint records them.
  Result from_checkpoint = run("--weights=" + checkpoint + " --input=" + input +
                               " --output=" + temp_path("ckpt_logits.npy") + " --model=R50x1");
  ASSERT_EQ(from_checkpoint.exit_code, 0) << from_checkpoint.err;
  EXPECT_EQ(read_file(temp_path("ckpt_logits.npy")), read_file(temp_path("npz_logits.npy")));
  EXPECT_EQ(from_checkpoint.out, from_npz.out);
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
  BitModelOptions options;
  options.base_width = 4;
  options.num_groups = 2;
  auto loaded = load_bit_model(kWeights, options);
  ASSERT_TRUE(loaded.ok());
  auto inputs = PredictionInputs::open(images, 32);
  ASSERT_TRUE(inputs.ok());
  loaded->model->eval();
  const Tensor expected = loaded->model->forward(*inputs->batch(0, 2));
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

TEST(BitPredictTest, ShowsProgressOverSeveralBatches) {
  const std::string input = temp_path("five.npy");
  ASSERT_TRUE(write_npy(input, zeros({5, 3, 32, 32})).ok());
  Result result = run("--weights=" + kWeights + kTinyFlags + " --input=" + input +
                      " --batch=2 --top_k=0");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.err, {"2/5 inputs", "4/5 inputs", "5/5 inputs", "images/s"}));
  EXPECT_EQ(result.out, "");
}

TEST(BitPredictTest, Errors) {
  const std::string input = golden_input();
  expect_failure(run(""), {"--weights and --input are required"}, "run bit_predict --help");
  expect_failure(run("--weights=missing/BiT-M-R50x1.npz --input=" + input),
                 {"missing/BiT-M-R50x1.npz: no such file"},
                 "download an official model, e.g. "
                 "https://storage.googleapis.com/bit_models/BiT-M-R50x1.npz");
  const std::string text = temp_path("not_a_model.txt");
  std::ofstream(text) << "hello\n";
  expect_failure(run("--weights=" + text + " --input=" + input),
                 {text, "cannot open as .npz"}, "--weights takes an official BiT .npz");
  expect_failure(run("--weights=" + kWeights + kTinyFlags + " --model=BiT-M-R101x1 --input=" +
                     input),
                 {"R101x1"}, "--weights takes an official BiT .npz");
  expect_failure(run("--weights=" + kWeights + " --input=" + input),
                 {"not a multiple of base_width 64"}, "--weights takes");
  expect_failure(run("--weights=" + kWeights + kTinyFlags + " --input=missing.png"),
                 {"missing.png: no such file"}, "--input takes comma-separated .jpg/.png files");
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
  expect_failure(run("--weights=" + kWeights + kTinyFlags + " --input=" + input +
                     " --output=" + temp_path("no/such/dir/logits.npy")),
                 {"no/such/dir/logits.npy"}, "--output must be a writable path");
}

}  // namespace
}  // namespace bitgrad
