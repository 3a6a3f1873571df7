// --save_weights: the official-layout .npz, and beside it the class names an .npz cannot hold;
// and what the run says about its checkpoints.
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "data/labels.h"
#include "gtest/gtest.h"
#include "io/npz.h"
#include "tests/train/finetune_binary.h"
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
  // What an .npz does not record, the input size and the narrowed width, the run says.
  EXPECT_NE(log.str().find("predict with bit_predict --weights=" + out + "/final.npz --labels=" +
                           out + "/final.labels.txt --resolution=32 --base_width=4 "
                           "--num_groups=2\n"),
            std::string::npos)
      << log.str();
  // Without --eval_every the one checkpoint is the last, and the run says so up front.
  EXPECT_NE(log.str().find("checkpoint: " + out + "/checkpoint.ckpt at the end only"),
            std::string::npos)
      << log.str();
}

}  // namespace
}  // namespace bitgrad
