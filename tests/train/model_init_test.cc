// The model a run starts from: the random initialisation's seed, and when and why a file's head
// is replaced.
#include "train/model_init.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/train/finetune_binary.h"
#include "train/run_config.pb.h"

namespace bitgrad {
namespace {

const std::vector<std::string> kIndexNames = {"0", "1", "2"};

// Index names ("0" .. "K-1") are what a reader gives classes it has no names for: on either
// side they tell nothing, so they differ from no names.
TEST(ClassNamesDifferenceTest, NamesTheFirstDifferenceAndIgnoresIndexNames) {
  EXPECT_EQ(class_names_difference({"ant", "bee", "cat"}, {"ant", "bee", "cat"}), "");
  EXPECT_EQ(class_names_difference({}, {"ant", "bee", "cat"}), "");
  EXPECT_EQ(class_names_difference(kIndexNames, {"ant", "bee", "cat"}), "");
  EXPECT_EQ(class_names_difference({"ant", "bee", "cat"}, kIndexNames), "");
  EXPECT_EQ(class_names_difference({"ant", "bee", "cat"}, {"ant", "cat", "bee"}),
            "class 1 is \"bee\" there and \"cat\" here");
  EXPECT_EQ(class_names_difference({"ant", "bee", "cat"}, {"ant", "bee"}),
            "3 classes there, 2 here");
}

// --seed picks the random initialisation: another seed, other weights.
TEST(InitialModelTest, TheSeedPicksTheRandomWeights) {
  const auto root_weights = [](uint64_t seed) {
    RunConfig c = testing::tiny_golden_run();  // --weights=random
    c.set_seed(seed);
    absl::StatusOr<LoadedBitModel> model = initial_model(c, kIndexNames);
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? model->model->named_parameters().front().second.to_vector<float>()
                      : std::vector<float>();
  };
  const std::vector<float> seed_1 = root_weights(1);
  ASSERT_FALSE(seed_1.empty());
  EXPECT_EQ(root_weights(1), seed_1);
  EXPECT_NE(root_weights(2), seed_1);
}

// A head of another size is replaced for that reason alone; its classes are not blamed.
TEST(InitialModelTest, AHeadOfAnotherSizeIsReplacedWithoutNamingClasses) {
  RunConfig c = testing::tiny_golden_run();
  c.set_weights("tests/golden/bit_tiny_r50.npz");  // a 5-way head
  absl::StatusOr<LoadedBitModel> model = initial_model(c, kIndexNames);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->model->config().head_size, 3);
  EXPECT_NE(model->message.find("head: 5-way from the file replaced by a zero 3-way one"),
            std::string::npos)
      << model->message;
  EXPECT_EQ(model->message.find("classes are other ones"), std::string::npos) << model->message;
}

}  // namespace
}  // namespace bitgrad
