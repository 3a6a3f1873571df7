#include "tests/train/finetune_binary.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "core/random.h"
#include "gtest/gtest.h"
#include "io/npz.h"
#include "train/metrics_log.h"

namespace bitgrad {
namespace testing {

void write_tiny_dataset(const std::string& path) {
  constexpr int64_t kImages = 24, kTest = 6, kSide = 8;
  Generator generator(5);
  std::vector<uint8_t> pixels(kImages * kSide * kSide * 3), labels(kImages);
  for (uint8_t& pixel : pixels) pixel = static_cast<uint8_t>(generator.randint(256));
  for (int64_t i = 0; i < kImages; ++i) labels[i] = static_cast<uint8_t>(i % 3);
  const auto first = [](const std::vector<uint8_t>& values, int64_t count) {
    return std::vector<uint8_t>(values.begin(), values.begin() + count);
  };
  const int64_t per_image = kSide * kSide * 3;
  const absl::Status written = write_npz(
      path, {{"x_train", from_vector<uint8_t>(pixels, {kImages, kSide, kSide, 3})},
             {"y_train", from_vector<uint8_t>(labels, {kImages})},
             {"x_test", from_vector<uint8_t>(first(pixels, kTest * per_image),
                                             {kTest, kSide, kSide, 3})},
             {"y_test", from_vector<uint8_t>(first(labels, kTest), {kTest})}});
  if (!written.ok()) std::abort();  // the test's own temporary directory
}

RunConfig tiny_golden_run() {
  RunConfig c;
  c.set_weights("random");
  c.set_model("R50x1");
  c.set_base_width(4);
  c.set_num_groups(2);
  c.set_dataset("npz:tests/train/testdata/finetune_golden_data.npz");  // classes "0", "1", "2"
  c.set_batch(4);
  c.set_batch_split(1);
  c.set_steps(1);
  c.set_base_lr(0.003);
  c.set_schedule("constant");
  c.set_mixup_alpha(0);
  c.set_augment("none");
  c.set_resolution(32);
  c.set_workers(1);
  return c;
}

std::vector<std::string> tiny_run_flags(const std::string& dataset, const std::string& out,
                                        int64_t steps, int64_t eval_every) {
  return {"--weights=random",  "--model=R50x1",    "--base_width=4",
          "--num_groups=2",    "--dataset=npz:" + dataset,
          "--batch=8",         "--batch_split=2",  absl::StrCat("--steps=", steps),
          "--base_lr=0.1",     "--mixup_alpha=0.2", "--resolution=32",
          "--seed=3",          absl::StrCat("--eval_every=", eval_every),
          "--out=" + out,      "--save_weights=" + out + "/final.npz"};
}

pid_t start_finetune(const std::vector<std::string>& flags, const ChildOptions& options) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  const int out = ::open((options.log_prefix + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int err = ::open((options.log_prefix + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) std::_Exit(127);
  if (options.file_size_limit >= 0) {
    signal(SIGXFSZ, SIG_DFL);  // as a shell leaves it: the program must not die of it
    const rlimit limit{static_cast<rlim_t>(options.file_size_limit),
                       static_cast<rlim_t>(options.file_size_limit)};
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) std::_Exit(127);
  }
  signal(SIGINT, options.ignore_sigint ? SIG_IGN : SIG_DFL);
  for (const std::string& variable : options.env) putenv(const_cast<char*>(variable.c_str()));
  std::vector<std::string> args = options.launcher;
  args.push_back("examples/bit_finetune");
  args.insert(args.end(), flags.begin(), flags.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  std::_Exit(127);
}

Finished wait_finetune(pid_t pid, const ChildOptions& options) {
  int status = 0;
  waitpid(pid, &status, 0);
  Finished finished;
  if (WIFEXITED(status)) finished.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) finished.signal = WTERMSIG(status);
  finished.out = read_file(options.log_prefix + ".out");
  finished.err = read_file(options.log_prefix + ".err");
  return finished;
}

bool has_checkpoint_temporary(const std::string& out) {
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(out, ignored)) {
    if (entry.path().filename().string().rfind("checkpoint.ckpt.tmp-", 0) == 0) return true;
  }
  return false;
}

bool has_exited(pid_t pid) {
  siginfo_t info{};
  return waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != 0;
}

Finished run_finetune_binary(const std::vector<std::string>& flags, const ChildOptions& options) {
  return wait_finetune(start_finetune(flags, options), options);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::vector<double> train_losses(const std::string& out) {
  absl::StatusOr<std::vector<std::pair<int64_t, Scalars>>> lines =
      read_metrics(out + "/metrics.jsonl");
  EXPECT_TRUE(lines.ok()) << lines.status();
  std::vector<double> losses;
  if (!lines.ok()) return losses;
  for (const auto& [step, scalars] : *lines) {
    for (const auto& [name, value] : scalars) {
      if (name != "train/loss") continue;
      EXPECT_EQ(step, static_cast<int64_t>(losses.size()) + 1);
      losses.push_back(value);
    }
  }
  return losses;
}

}  // namespace testing
}  // namespace bitgrad
