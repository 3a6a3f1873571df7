// bit_bench on flags it cannot run with: one "error:" line naming the flag, exit code 1, before
// any model is built (--steps=0 and --warmup=-1 crashed on an empty list of timings).
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace {

struct Result {
  int exit_code;
  std::string err;
};

// bit_bench on a narrowed model small enough to time in milliseconds, with `flags` last.
Result bench(const std::string& flags) {
  const std::string err = ::testing::TempDir() + "/bit_bench.err";
  const int status = std::system(absl::StrCat("tools/bench/bit_bench --base_width=8 "
                                              "--num_groups=4 --batch=1 --res=32 --steps=1 "
                                              "--warmup=0 ", flags, " > /dev/null 2> ", err)
                                     .c_str());
  std::ifstream in(err);
  std::stringstream text;
  text << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

TEST(BitBenchTest, RunsTheSmallestConfiguration) {
  for (const std::string mode : {"train", "infer"}) {
    const Result result = bench("--mode=" + mode);
    EXPECT_EQ(result.exit_code, 0) << mode << ": " << result.err;
  }
}

TEST(BitBenchTest, RefusesFlagsItCannotRunWith) {
  const struct {
    std::string flags, expected;
  } cases[] = {
      {"--steps=0", "error: --steps=0: must be >= 1"},
      {"--warmup=-1", "error: --warmup=-1: must be >= 0"},
      {"--batch=0", "error: --batch=0: must be >= 1"},
      {"--res=16", "error: --res=16: must be >= 32"},
      {"--head=0", "error: --head=0: must be >= 1"},
      {"--threads=-1", "error: --threads=-1: must be >= 0"},
      {"--mode=eval", "error: --mode: expected train or infer, got \"eval\""},
      {"--device=tpu", "error: --device: expected cpu or cuda, got \"tpu\""},
      {"--num_groups=0", "error: --num_groups: 32 GroupNorm groups (0: the official 32) do not "
                         "divide the root width 8 (--base_width=8 x width factor 1); give "
                         "--num_groups that divides it, e.g. --num_groups=4"},
  };
  for (const auto& c : cases) {
    const Result result = bench(c.flags);
    EXPECT_EQ(result.exit_code, 1) << c.flags << ": " << result.err;
    EXPECT_NE(result.err.find(c.expected), std::string::npos) << c.flags << ": " << result.err;
    // The message is the user's, not an internal check's with its source line.
    EXPECT_EQ(result.err.find(".cc:"), std::string::npos) << c.flags << ": " << result.err;
  }
}

}  // namespace
