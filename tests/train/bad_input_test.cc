// "Bad input, one clear line each" (docs/reliability.md): every row of the table is a bad input
// to bit_finetune (run as a child process) or to a tensor op, and the ONE line it must produce.
// The test checks each line (exit code 1, a single "error:" line on stderr, holding the
// expected fragments), then renders the table and compares it with the one in
// docs/reliability.md. `bazel run //tests/train:bad_input_test` rewrites the doc's table.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/check.h"
#include "core/storage.h"
#include "gtest/gtest.h"
#include "io/npz.h"
#include "models/bit_weights.h"
#include "models/train_state.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/loss.h"
#include "ops/reduce.h"
#include "optim/sgd.h"
#include "tests/train/finetune_binary.h"
#include "train/metrics_log.h"

namespace bitgrad {
namespace {

namespace fs = std::filesystem;
const std::string kDoc = "docs/reliability.md";
const std::string kBegin = "<!-- bad_input_test: begin -->", kEnd = "<!-- bad_input_test: end -->";

std::string dir() { return ::testing::TempDir() + "/bad_input"; }
std::string path(const std::string& name) { return dir() + "/" + name; }

// The tiny run's flags with `changes` ("--name=value") replacing or adding flags.
std::vector<std::string> run_with(const std::vector<std::string>& changes,
                                  const std::string& out = "run") {
  std::vector<std::string> flags = testing::tiny_run_flags(path("tiny.npz"), path(out), 2, 1);
  for (const std::string& change : changes) {
    const std::string name = change.substr(0, change.find('=') + 1);
    bool replaced = false;
    for (std::string& flag : flags) {
      if (!name.empty() && name.back() == '=' && flag.rfind(name, 0) == 0) {
        flag = change;
        replaced = true;
      }
    }
    if (!replaced) flags.push_back(change);
  }
  return flags;
}

// The one error line of a run that must fail; a description of what went wrong otherwise.
std::string error_line(const std::vector<std::string>& flags,
                       const testing::ChildOptions& given = {}) {
  testing::ChildOptions options = given;
  options.log_prefix = path("child");
  const testing::Finished done = testing::run_finetune_binary(flags, options);
  if (done.exit_code != 1) return absl::StrCat("(exit code ", done.exit_code, ") ", done.err);
  std::string line = done.err;
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

std::string thrown(const std::function<void()>& statement) {
  try {
    statement();
  } catch (const Error& error) {
    return absl::StrCat("error: ", error.what());
  }
  return "(no error)";
}

// A device runtime that keeps "cuda" tensors in host memory: mixed devices without a GPU.
class HostMemoryAsCuda : public DeviceRuntime {
 public:
  void* allocate(size_t nbytes, int) override { return std::malloc(nbytes == 0 ? 1 : nbytes); }
  void deallocate(void* ptr, size_t, int) override { std::free(ptr); }
  void copy(void* dst, Device, const void* src, Device, size_t nbytes) override {
    std::memcpy(dst, src, nbytes);
  }
  void fill_zero(void* ptr, size_t nbytes, int) override { std::memset(ptr, 0, nbytes); }
};

// --- fixtures --------------------------------------------------------------------------------

BitConfig tiny_bit(int64_t base_width) {
  BitConfig config;
  config.head_size = 3;
  config.base_width = base_width;
  config.num_groups = 2;
  return config;
}

void write_bytes(const std::string& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary) << bytes;
}

void truncate_copy(const std::string& from, const std::string& to) {
  const std::string bytes = testing::read_file(from);
  write_bytes(to, bytes.substr(0, bytes.size() / 2));
}

// Copies of a small PNG at `images` (paths below $TMP), and at `cut` the first 300 bytes of a
// JPEG: an image folder with one file that does not decode.
void image_folder_with_a_cut_jpeg(const std::vector<std::string>& images, const std::string& cut) {
  for (const std::string& image : images) {
    fs::create_directories(fs::path(path(image)).parent_path());
    fs::copy_file("tests/data/testdata/rgb8.png", path(image));
  }
  const std::string jpeg = testing::read_file("tests/data/testdata/rgb.jpg");
  std::ofstream(path(cut), std::ios::binary) << jpeg.substr(0, 300);
}

// Removes `cut` and resumes the run of `flags`: "" when it finishes, else what went wrong.
std::string resume_without(const std::string& cut, std::vector<std::string> flags,
                           const std::string& log) {
  fs::remove(path(cut));
  flags.push_back("--resume");
  const testing::Finished done = testing::run_finetune_binary(flags, {.log_prefix = path(log)});
  return done.exit_code == 0 ? "" : "(the resumed run failed) " + done.err;
}

// good.npz's arrays with `change` applied, written to `name`.
void edited_npz(const std::string& from, const std::string& name,
                const std::function<void(NamedArrays&)>& change) {
  NamedArrays arrays = *read_npz(from);
  change(arrays);
  ASSERT_TRUE(write_npz(path(name), arrays).ok());
}

void make_fixtures() {
  fs::remove_all(dir());
  fs::create_directories(dir());
  testing::write_tiny_dataset(path("tiny.npz"));
  BitResNetV2 model(tiny_bit(4));
  ASSERT_TRUE(save_bit_weights(model, path("good.npz")).ok());
  truncate_copy(path("good.npz"), path("truncated.npz"));
  write_bytes(path("text.npz"), "these are not weights\n");
  edited_npz(path("good.npz"), "int_root.npz", [](NamedArrays& arrays) {
    arrays[0].second = arrays[0].second.to(DType::kInt64);
  });
  edited_npz(path("good.npz"), "flat_root.npz", [](NamedArrays& arrays) {
    arrays[0].second = zeros({arrays[0].second.numel()});
  });
  edited_npz(path("good.npz"), "no_root.npz",
             [](NamedArrays& arrays) { arrays.erase(arrays.begin()); });
  TrainState state;
  state.model = &model;
  ASSERT_TRUE(save_train_state(path("good.ckpt"), state).ok());
  truncate_copy(path("good.ckpt"), path("truncated.ckpt"));
  edited_npz(path("tiny.npz"), "no_test.npz", [](NamedArrays& arrays) {
    arrays.pop_back();
    arrays.pop_back();
  });
  edited_npz(path("tiny.npz"), "float_images.npz", [](NamedArrays& arrays) {
    arrays[0].second = arrays[0].second.to(DType::kFloat32);
  });
  truncate_copy(path("tiny.npz"), path("truncated_data.npz"));
  write_bytes(path("a_file"), "");
  write_bytes(path("bad.textproto"), "batch: \"many\"\n");
  write_bytes(path("batch.textproto"), "batch: 64\n");
  write_bytes(path("batch0.flags"), "--batch=0\n");
}

// --- the table ---------------------------------------------------------------------------------

struct Row {
  std::string kind;    // files, flags, run directory, training, environment, tensors
  std::string input;   // what was given (markdown; $TMP is the test's directory)
  std::function<std::string()> line;
  std::vector<std::string> expected;  // fragments the line must hold
  bool machine_dependent = false;     // the doc shows this machine's line
};

std::vector<Row> rows() {
  return {
      {"files", "`--weights=$TMP/truncated.npz` (the first half of a good .npz)",
       [] { return error_line(run_with({"--weights=" + path("truncated.npz")})); },
       {"--weights", "truncated.npz"}},
      {"files", "`--weights=$TMP/text.npz` (a text file: wrong magic)",
       [] { return error_line(run_with({"--weights=" + path("text.npz")})); },
       {"--weights", "text.npz"}},
      {"files", "`--weights=` a .npz whose root conv weight is int64",
       [] { return error_line(run_with({"--weights=" + path("int_root.npz")})); },
       {"--weights", "int_root.npz", "int64"}},
      {"files", "`--weights=` a .npz whose root conv weight is flat",
       [] { return error_line(run_with({"--weights=" + path("flat_root.npz")})); },
       {"--weights", "flat_root.npz", "shape"}},
      {"files", "`--weights=` a .npz without the root conv weight",
       [] { return error_line(run_with({"--weights=" + path("no_root.npz")})); },
       {"--weights", "no_root.npz", "root"}},
      {"files", "`--weights=$TMP/missing.npz`",
       [] { return error_line(run_with({"--weights=" + path("missing.npz")})); },
       {"--weights", "missing.npz"}},
      {"files", "`--weights=$TMP/truncated.ckpt` (the first half of a checkpoint)",
       [] { return error_line(run_with({"--weights=" + path("truncated.ckpt")})); },
       {"--weights", "truncated.ckpt"}},
      {"files", "`--resume` of a run of base width 8 with `--base_width=4`",
       [] {
         error_line(run_with({"--base_width=8"}, "wider_run"));  // writes the checkpoint
         return error_line(run_with({"--resume", "--base_width=4"}, "wider_run"));
       },
       {"--resume", "wider_run/checkpoint.ckpt", "other settings", "--base_width=8 there, 4 here"}},
      {"files", "`--weights=$TMP/good.ckpt --model=R101x1` (the checkpoint holds an R50x1)",
       [] {
         return error_line(run_with({"--weights=" + path("good.ckpt"), "--model=R101x1"}));
       },
       {"--weights", "good.ckpt", "R50x1", "R101x1"}},
      {"files", "`--weights=$TMP/good.ckpt --base_width=8` (the checkpoint holds base width 4)",
       [] {
         return error_line(run_with({"--weights=" + path("good.ckpt"), "--base_width=8"}));
       },
       {"--base_width=8", "good.ckpt", "base width 4", "leave them out"}},
      {"files", "`--dataset=npz:` a file without x_test and y_test",
       [] { return error_line(run_with({"--dataset=npz:" + path("no_test.npz")})); },
       {"--dataset", "no_test.npz", "x_test"}},
      {"files", "`--dataset=npz:` a file with float32 images",
       [] { return error_line(run_with({"--dataset=npz:" + path("float_images.npz")})); },
       {"--dataset", "float_images.npz", "float32"}},
      {"files", "`--dataset=npz:` the first half of a dataset file",
       [] { return error_line(run_with({"--dataset=npz:" + path("truncated_data.npz")})); },
       {"--dataset", "truncated_data.npz"}},
      {"files", "`--dataset=folder:$TMP/unsplit`: class folders not split into train/, test/",
       [] {
         fs::create_directories(path("unsplit/cat"));
         fs::create_directories(path("unsplit/dog"));
         return error_line(run_with({"--dataset=folder:" + path("unsplit")}));
       },
       {"--dataset", "unsplit", "train/ and test/", "[cat, dog]", "--test_fraction=0.2"}},
      {"files", "`--dataset=folder:$TMP/lone --test_fraction=0.2`: a class with one image",
       [] {
         for (const char* image : {"lone/cat/1.png", "lone/cat/2.png", "lone/dog/1.png"}) {
           fs::create_directories(fs::path(path(image)).parent_path());
           fs::copy_file("tests/data/testdata/rgb8.png", path(image));
         }
         return error_line(
             run_with({"--dataset=folder:" + path("lone"), "--test_fraction=0.2"}));
       },
       {"--dataset", "lone/dog: 1 image", "at least 2"}},
      {"files", "`--dataset=cifar10:$TMP/cifar-py`: CIFAR-10's Python version (pickled)",
       [] {
         fs::create_directories(path("cifar-py"));
         std::ofstream(path("cifar-py/data_batch_1")) << "pickled";
         return error_line(run_with({"--dataset=cifar10:" + path("cifar-py")}));
       },
       {"--dataset", "cifar-py", "Python version", "cifar-10-binary.tar.gz"}},
      {"files", "`--config=$TMP/bad.textproto` holding `batch: \"many\"`",
       [] { return error_line({"--config=" + path("bad.textproto")}); },
       {"--config", "bad.textproto"}},
      {"files", "`--config=$TMP/batch.textproto` holding `batch: 64`, without `--weights`",
       [] { return error_line({"--config=" + path("batch.textproto")}); },
       {"--batch", "--weights"}},
      {"files", "`--config=$TMP/keep.textproto --save_weights=$TMP/keep.textproto` (an output "
                "over the config)",
       [] {
         write_bytes(path("keep.textproto"), "batch: 2\n");
         const std::string line = error_line(run_with(
             {"--config=" + path("keep.textproto"), "--save_weights=" + path("keep.textproto")}));
         if (testing::read_file(path("keep.textproto")) != "batch: 2\n") {
           return "(overwritten) " + line;
         }
         return line;
       },
       {"--save_weights", "keep.textproto", "is the file --config reads"}},
      {"files", "`--config=$TMP/missing.textproto`",
       [] { return error_line({"--config=" + path("missing.textproto")}); },
       {"--config", "missing.textproto"}},
      {"files", "`--config=$TMP` (a folder), a 2 MiB file, and `--config=/dev/zero`",
       [] {
         const std::string folder = error_line({"--config=" + dir()});
         if (folder.find("is a folder") == std::string::npos) return "(folder) " + folder;
         write_bytes(path("big.textproto"), std::string(2 << 20, '#'));
         const std::string big = error_line({"--config=" + path("big.textproto")});
         if (big.find("holds over 1 MiB") == std::string::npos) return "(big) " + big;
         return error_line({"--config=/dev/zero"});
       },
       {"--config", "/dev/zero holds over 1 MiB"}},
      {"flags", "`--dataset=imagenet:/data`",
       [] { return error_line(run_with({"--dataset=imagenet:/data"})); },
       {"--dataset", "imagenet", "expected"}},
      {"flags", "`--dataset=$TMP/unsplit` (a folder, without `folder:`)",
       [] {
         fs::create_directories(path("unsplit/cat"));
         return error_line(run_with({"--dataset=" + path("unsplit")}));
       },
       {"--dataset", "did you mean --dataset=folder:", "unsplit"}},
      {"flags", "`--batch=10 --batch_split=3`",
       [] { return error_line(run_with({"--batch=10", "--batch_split=3"})); },
       {"--batch_split", "divide", "10"}},
      {"flags", "`--examples_per_class=100` (the classes have 8 images)",
       [] { return error_line(run_with({"--examples_per_class=100"})); },
       {"--examples_per_class", "100"}},
      {"flags", "`--resolution=16` (the network halves its input 5 times)",
       [] { return error_line(run_with({"--resolution=16"})); },
       {"--resolution", "from 32", "got 16"}},
      {"flags", "`--resolution=65536 --batch=1048576 --batch_split=1`, the largest taken (54 PB, "
                "past any machine's address space)",
       [] {
         return error_line(
             run_with({"--resolution=65536", "--batch=1048576", "--batch_split=1"}));
       },
       {"no memory for a batch", "3x65536x65536", "lower --batch", "--resolution"}},
      {"flags", "`--resolution=65537`",
       [] { return error_line(run_with({"--resolution=65537"})); },
       {"--resolution", "to 65536", "got 65537"}},
      {"flags", "`--mixup_alpha=inf`",
       [] { return error_line(run_with({"--mixup_alpha=inf"})); },
       {"--mixup_alpha", "finite"}},
      {"flags", "`--eval_batch=9223372036854775807`",
       [] { return error_line(run_with({"--eval_batch=9223372036854775807"})); },
       {"--eval_batch", "at most 1048576"}},
      {"flags", "`--base_width=-1`",
       [] { return error_line(run_with({"--base_width=-1"})); },
       {"--base_width", ">= 0"}},
      {"flags", "`--num_groups=3` (the base width is 4)",
       [] { return error_line(run_with({"--num_groups=3"})); },
       {"--num_groups", "do not divide the root width 4", "--num_groups=2"}},
      {"flags", "`--batch=0`", [] { return error_line(run_with({"--batch=0"})); },
       {"--batch", "positive"}},
      {"flags", "`--flagfile=batch0.flags`, relative to where `bazel run` was invoked ($TMP)",
       [] {
         return error_line(run_with({"--flagfile=batch0.flags"}),
                           {.env = {"BUILD_WORKING_DIRECTORY=" + dir()}});
       },
       {"--batch", "positive"}},
      {"flags", "`--schedule=cosine`", [] { return error_line(run_with({"--schedule=cosine"})); },
       {"--schedule", "cosine", "hyperrule"}},
      {"flags", "`--augment=heavy`", [] { return error_line(run_with({"--augment=heavy"})); },
       {"--augment", "heavy"}},
      {"flags", "`--loss=hinge`", [] { return error_line(run_with({"--loss=hinge"})); },
       {"--loss", "hinge", "softmax or sigmoid"}},
      {"flags", "`--workers=0`", [] { return error_line(run_with({"--workers=0"})); },
       {"--workers", "positive"}},
      {"flags", "`--workers=100000`", [] { return error_line(run_with({"--workers=100000"})); },
       {"--workers", "at most 1024", "100000"}},
      {"flags", "`--weights=random --model=R42`",
       [] { return error_line(run_with({"--model=R42"})); }, {"--model", "R42"}},
      {"flags", "`--batch=many`", [] { return error_line(run_with({"--batch=many"})); },
       {"batch", "many"}},
      {"flags", "`--bacth=8` (a misspelt flag)", [] { return error_line(run_with({"--bacth=8"})); },
       {"bacth"}},
      {"flags", "`--batch=64` without `--weights` (the transfer experiment sets its own)",
       [] { return error_line({"--batch=64"}); }, {"--batch", "--weights", "--seed"}},
      {"flags",
       "`--seed=1 --workers=1 --eval_every=5 --out=$TMP/experiment "
       "--dataset=fashion_mnist:$TMP/missing` without `--weights` (the flags the experiment "
       "takes pass; the dataset is checked next)",
       [] {
         return error_line({"--seed=1", "--workers=1", "--eval_every=5",
                            "--out=" + path("experiment"),
                            "--dataset=fashion_mnist:" + path("missing")});
       },
       {"--dataset", "missing"}},
      {"flags", "`--save_weights=$TMP/missing/final.npz` (no such folder)",
       [] {
         const std::string line =
             error_line(run_with({"--save_weights=" + path("missing/final.npz")}, "save_run"));
         // Refused before the training, not after hours of it.
         if (fs::exists(path("save_run/metrics.jsonl"))) return "(trained first) " + line;
         return line;
       },
       {"--save_weights", "missing does not exist"}},
      {"flags", "`--save_weights=$TMP/side/final.npz` where `final.labels.txt`, the file beside "
                "it for the class names, is a folder",
       [] {
         fs::create_directories(path("side/final.labels.txt"));
         const std::string line =
             error_line(run_with({"--save_weights=" + path("side/final.npz")}, "side_run"));
         if (fs::exists(path("side_run/metrics.jsonl"))) return "(trained first) " + line;
         return line;
       },
       {"--save_weights's class names", "final.labels.txt", "is a folder"}},
      {"flags",
       "`--weights=$TMP/good.ckpt --save_weights=$TMP/good.ckpt` (an output over an input)",
       [] {
         const std::string before = testing::read_file(path("good.ckpt"));
         const std::string line = error_line(run_with(
             {"--weights=" + path("good.ckpt"), "--save_weights=" + path("good.ckpt")}));
         if (testing::read_file(path("good.ckpt")) != before) return "(overwritten) " + line;
         return line;
       },
       {"--save_weights", "good.ckpt", "is the file --weights reads"}},
      {"flags", "`--weights=$TMP/up_run/checkpoint.ckpt --out=$TMP/up_run`: fine-tuning into the "
                "folder of the run it starts from",
       [] {
         error_line(run_with({}, "up_run"));
         return error_line(run_with({"--weights=" + path("up_run/checkpoint.ckpt")}, "up_run"));
       },
       {"--out's checkpoint", "up_run/checkpoint.ckpt is the file --weights reads"}},
      {"flags",
       "`--out=$TMP/self --save_weights=$TMP/self/checkpoint.ckpt` (two outputs, one file)",
       [] {
         return error_line(run_with({"--save_weights=" + path("self/checkpoint.ckpt")}, "self"));
       },
       {"--out's checkpoint", "is also --save_weights"}},
      {"flags", "`--out=$TMP/locked --save_weights=$TMP/locked/lock` (the file a run locks)",
       [] { return error_line(run_with({"--save_weights=" + path("locked/lock")}, "locked")); },
       {"--out's lock", "is also --save_weights"}},
      {"flags", "`--out=$TMP/temp/ --save_weights=$TMP/temp/final.npz.tmp-1-1` (named as a "
                "temporary, which a run deletes)",
       [] {
         return error_line(run_with(
             {"--out=" + path("temp/"), "--save_weights=" + path("temp/final.npz.tmp-1-1")}));
       },
       {"--save_weights", "final.npz.tmp-1-1", "deletes when it starts"}},
      {"flags", "`--resume` without `--out`",
       [] { return error_line(run_with({"--out=", "--resume", "--save_weights="})); },
       {"--resume", "--out"}},
      {"flags", "`--eval_only --weights=random`",
       [] {
         return error_line(
             {"--eval_only", "--weights=random", "--dataset=npz:" + path("tiny.npz")});
       },
       {"--eval_only", "trained --weights"}},
      {"flags", "`--eval_only --weights=$TMP/good.ckpt --steps=100` (a training setting)",
       [] {
         return error_line({"--eval_only", "--weights=" + path("good.ckpt"),
                            "--dataset=npz:" + path("tiny.npz"), "--steps=100"});
       },
       {"--steps", "--eval_only trains nothing"}},
      {"run directory", "`--out=$TMP/a_file/run` (under a regular file)",
       [] { return error_line(run_with({"--out=" + path("a_file/run")})); },
       {"--out", "a_file/run"}},
      {"run directory", "`--out=$TMP/a_file` (a regular file)",
       [] { return error_line(run_with({"--out=" + path("a_file")})); },
       {"--out", "a_file", "a file, not a folder"}},
      {"run directory", "`--out=$TMP/linked` whose `lock` is a symbolic link (to a file the pid "
                        "would overwrite)",
       [] {
         fs::create_directories(path("linked"));
         write_bytes(path("victim.txt"), "keep me");
         fs::create_symlink(path("victim.txt"), path("linked/lock"));
         const std::string line = error_line(run_with({}, "linked"));
         if (testing::read_file(path("victim.txt")) != "keep me") return "(overwritten) " + line;
         return line;
       },
       {"--out", "linked/lock", "symbolic link"}},
      {"run directory", "`--out` of a run that is still going, and has written a checkpoint",
       [] {
         testing::ChildOptions options{.log_prefix = path("busy")};
         const pid_t busy = testing::start_finetune(
             testing::tiny_run_flags(path("tiny.npz"), path("busy"), 100000, 1), options);
         // Not "holds a run already ... delete that folder": a live run's folder is busy.
         while (testing::read_file(path("busy/lock")).empty() ||
                !fs::exists(path("busy/checkpoint.ckpt"))) {
           std::this_thread::sleep_for(std::chrono::milliseconds(5));
         }
         const std::string line = error_line(run_with({}, "busy"));
         kill(busy, SIGKILL);
         testing::wait_finetune(busy, options);
         // The kernel dropped the killed run's lock: the directory is usable again.
         const std::string after = error_line(run_with({"--batch=0"}, "busy"));
         if (after.find("--batch") == std::string::npos) return "(lock stuck) " + after;
         // Only the pid after "process": a short one (a sandbox's) may stand in the paths too.
         return absl::StrReplaceAll(line, {{absl::StrCat("process ", busy, " "), "process PID "}});
       },
       {"--out", "in use by another run", "process PID"}},
      {"run directory", "`--resume` with no checkpoint in `--out`",
       [] { return error_line(run_with({"--resume"}, "empty_run")); },
       {"--resume", "no checkpoint"}},
      {"run directory", "`--out` of a finished run again, without `--resume`",
       [] {
         error_line(run_with({}, "done_run"));  // a whole run: it writes the checkpoint
         return error_line(run_with({}, "done_run"));
       },
       {"--out", "holds a run already", "--resume continues it"}},
      {"run directory", "`--resume` with `--base_lr=0.2`, the checkpoint has 0.1",
       [] {
         error_line(run_with({}, "lr_run"));  // a whole run: it writes the checkpoint
         return error_line(run_with({"--resume", "--base_lr=0.2"}, "lr_run"));
       },
       {"--resume", "other settings", "--base_lr=0.1 there, 0.2 here"}},
      {"run directory", "`--resume` with `--weight_decay=0.0001`, the checkpoint has 0",
       [] {
         error_line(run_with({}, "decay_run"));
         return error_line(run_with({"--resume", "--weight_decay=0.0001"}, "decay_run"));
       },
       {"--resume", "other settings", "--weight_decay=0 there, 0.0001 here"}},
      {"run directory", "`--resume` after the file under `--dataset` was replaced by one of "
                        "other classes (its labels file names them in another order)",
       [] {
         fs::copy_file(path("tiny.npz"), path("named.npz"));
         std::ofstream(path("named.labels.txt")) << "ant\nbee\ncat\n";
         const auto flags = run_with({"--dataset=npz:" + path("named.npz")}, "named_run");
         error_line(flags);
         std::ofstream(path("named.labels.txt")) << "cat\nbee\nant\n";
         std::vector<std::string> resumed = flags;
         resumed.push_back("--resume");
         return error_line(resumed);
       },
       {"--resume", "named_run/checkpoint.ckpt", "other classes", "class 0 is \"ant\" there and "
        "\"cat\" here"}},
      {"run directory", "`--resume` after a class folder was added to the `--dataset`",
       [] {
         const auto add_class = [](const std::string& name) {
           for (const char* image :
                {"train/CLASS/1.png", "train/CLASS/2.png", "test/CLASS/1.png"}) {
             const std::string file =
                 path("grown/" + absl::StrReplaceAll(image, {{"CLASS", name}}));
             fs::create_directories(fs::path(file).parent_path());
             fs::copy_file("tests/data/testdata/rgb8.png", file);
           }
         };
         add_class("ant");
         add_class("bee");
         const auto flags = run_with({"--dataset=folder:" + path("grown"), "--batch=2",
                                      "--batch_split=1"}, "grown_run");
         error_line(flags);
         add_class("cat");
         std::vector<std::string> resumed = flags;
         resumed.push_back("--resume");
         return error_line(resumed);
       },
       {"--resume", "grown_run/checkpoint.ckpt", "other classes", "3 classes"}},
      {"training", "`--base_lr=1e30 --schedule=constant` (diverges)",
       [] {
         const auto flags =
             run_with({"--base_lr=1e30", "--schedule=constant", "--steps=20"}, "nan_run");
         const std::string line = error_line(flags);
         // The checkpoint is good: a resumed run reaches the same step and stops the same way.
         const std::string checkpoint = testing::read_file(path("nan_run/checkpoint.ckpt"));
         std::vector<std::string> resumed = flags;
         resumed.push_back("--resume");
         const std::string again = error_line(resumed);
         if (again != line) return "(resume differs) " + again;
         if (testing::read_file(path("nan_run/checkpoint.ckpt")) != checkpoint) {
           return std::string("(checkpoint changed)");
         }
         return line;
       },
       {"step", "non-finite", "parameter '", "is intact"}},
      {"training", "`--resume` under a 20 KB file-size limit (`ulimit -f`): the next "
                   "checkpoint cannot be written",
       [] {
         // A run killed while writing its second checkpoint, resumed under the limit.
         const auto flags = run_with({"--steps=4"}, "full_disk");
         testing::ChildOptions paused{.env = {"BITGRAD_TEST_PAUSE_BEFORE_PUBLISH_MS=2000"},
                                      .log_prefix = path("full_disk")};
         const pid_t first = testing::start_finetune(flags, paused);
         const std::string checkpoint = path("full_disk/checkpoint.ckpt");
         const auto second_eval_logged = [] {
           return testing::read_file(path("full_disk/metrics.jsonl"))
                      .find("\"step\": 2, \"test") != std::string::npos;
         };
         while (!fs::exists(checkpoint) || !second_eval_logged()) {
           std::this_thread::sleep_for(std::chrono::milliseconds(5));
         }
         kill(first, SIGKILL);
         testing::wait_finetune(first, paused);
         const std::string before = testing::read_file(checkpoint);
         std::vector<std::string> resumed = flags;
         resumed.push_back("--resume");
         const std::string line = error_line(resumed, {.file_size_limit = 20000});
         if (testing::read_file(checkpoint) != before) return "(checkpoint changed) " + line;
         if (!read_metrics(path("full_disk/metrics.jsonl")).ok()) return "(metrics broken) " + line;
         return line;
       },
       {"checkpoint.ckpt", "File too large", "(step 1) is intact"}},
      {"training", "a JPEG cut short among the training images, met at update 2 (file order, "
                   "batch 2); with the file removed, `--resume` finishes the run",
       [] {
         image_folder_with_a_cut_jpeg({"cut/train/a/1.png", "cut/train/a/2.png",
                                       "cut/train/b/1.png", "cut/test/a/1.png", "cut/test/b/1.png"},
                                      "cut/train/b/2.jpg");
         const auto flags = run_with({"--dataset=folder:" + path("cut"), "--batch=2",
                                      "--batch_split=1", "--shuffle=false", "--augment=none",
                                      "--mixup_alpha=0", "--steps=3", "--eval_every=1"},
                                     "cut_run");
         const std::string line = error_line(flags);
         const std::string resumed = resume_without("cut/train/b/2.jpg", flags, "cut_resume");
         return resumed.empty() ? line : resumed;
       },
       {"cut/train/b/2.jpg", "truncated JPEG", "checkpoint.ckpt (step 1) is intact",
        "--resume continues"}},
      {"training", "a JPEG cut short among the test images, met at the first evaluation (update "
                   "2): the updates made are kept; with the file removed, `--resume` evaluates "
                   "update 2 and finishes the run",
       [] {
         image_folder_with_a_cut_jpeg({"cut_test/train/a/1.png", "cut_test/train/b/1.png",
                                       "cut_test/test/a/1.png", "cut_test/test/b/1.png"},
                                      "cut_test/test/b/2.jpg");
         const auto flags = run_with({"--dataset=folder:" + path("cut_test"), "--batch=2",
                                      "--batch_split=1", "--steps=3", "--eval_every=2"},
                                     "cut_test_run");
         const std::string line = error_line(flags);
         const std::string resumed =
             resume_without("cut_test/test/b/2.jpg", flags, "cut_test_resume");
         if (!resumed.empty()) return resumed;
         const auto metrics = read_metrics(path("cut_test_run/metrics.jsonl"));
         if (!metrics.ok()) return "(metrics unreadable) " + line;
         std::vector<int64_t> evaluated;
         for (const auto& [step, scalars] : *metrics) {
           if (scalars.front().first == "test/top1") evaluated.push_back(step);
         }
         if (evaluated != std::vector<int64_t>{2, 3}) return "(not evaluated at 2 and 3) " + line;
         return line;
       },
       {"cut_test/test/b/2.jpg", "truncated JPEG", "checkpoint.ckpt (step 2) is intact",
        "--resume continues"}},
      {"environment", "`--device=cuda` on a machine without a GPU",
       [] { return error_line(run_with({"--device=cuda"})); },
       {"--device=cuda"}, true},
      {"environment", "`--device=tpu`", [] { return error_line(run_with({"--device=tpu"})); },
       {"--device", "tpu", "cpu or cuda"}},
      {"environment", "`--dataset=folder:$TMP/missing` (no such directory)",
       [] { return error_line(run_with({"--dataset=folder:" + path("missing")})); },
       {"--dataset", "missing"}},
      {"environment", "`--dataset=fashion_mnist:$TMP/missing`",
       [] { return error_line(run_with({"--dataset=fashion_mnist:" + path("missing")})); },
       {"--dataset", "missing"}},
      {"environment", "`XDG_CACHE_HOME=$TMP/a_file` (a file) without `--weights`",
       [] {
         return error_line({"--out=" + path("cache_experiment")},
                           {.env = {"XDG_CACHE_HOME=" + path("a_file")}});
       },
       {"cache folder", "a_file/bitgrad", "XDG_CACHE_HOME"}},
      {"tensors", "`add(a, b)`, a on the CPU and b on cuda:0",
       [] {
         static HostMemoryAsCuda fake;
         register_device_runtime(DeviceType::kCUDA, &fake);
         return thrown([] { add(zeros({2}), zeros({2}, DType::kFloat32, Device::cuda())); });
       },
       {"cpu", "cuda:0", "one device"}},
      {"tensors", "`add(a, b)`, a float32 and b float64",
       [] { return thrown([] { add(zeros({2}), zeros({2}, DType::kFloat64)); }); },
       {"float32", "float64"}},
      {"tensors", "`conv2d(x, w)` with an int64 x",
       [] {
         return thrown([] { conv2d(zeros({1, 3, 8, 8}, DType::kInt64), zeros({4, 3, 3, 3})); });
       },
       {"conv2d", "int64"}},
      {"tensors", "`cross_entropy(logits, target)`, logits for 2 examples, int64 classes for 3",
       [] {
         return thrown([] { cross_entropy(zeros({2, 3}), zeros({3}, DType::kInt64)); });
       },
       {"cross_entropy", "(2)", "(3)"}},
      {"tensors", "`matmul(a, b)` of shapes (2, 3) and (4, 5)",
       [] { return thrown([] { matmul(zeros({2, 3}), zeros({4, 5})); }); },
       {"matmul", "(2, 3)", "(4, 5)"}},
      {"tensors", "an optimizer step between `loss = sum(conv2d(x, w))` and `loss.backward()`",
       [] {
         return thrown([] {
           Tensor w = zeros({4, 3, 1, 1}).set_requires_grad();
           Tensor loss = sum(conv2d(zeros({1, 3, 2, 2}).set_requires_grad(), w));
           Sgd sgd({{"w", w}}, SgdOptions{});
           w.set_grad(ones_like(w));
           sgd.step();
           loss.backward();
         });
       },
       {"conv2d", "changed in place", "version 1"}},
  };
}

std::string doc_row(const Row& row, const std::string& line) {
  const std::string shown = absl::StrReplaceAll(line, {{dir(), "$TMP"}, {"|", "\\|"}});
  return absl::StrCat("| ", row.kind, " | ", row.input, " | `", shown, "` |\n");
}

// The tensors rows end with the BG_CHECK's place, "[ops/conv.cc:40]". Of a check written over
// several lines GCC reports the first line, which the doc shows, and clang the last; so under
// clang the line numbers are left out of the comparison, and the rest of each row still counts.
std::string without_clang_line_numbers(const std::string& table) {
#ifdef __clang__
  static const std::regex kPlace(R"(\[([A-Za-z0-9_/.]+):[0-9]+\])");
  return std::regex_replace(table, kPlace, "[$1:LINE]");
#else
  return table;
#endif
}

// The doc's table, between kBegin and kEnd.
std::string doc_table(const std::string& doc) {
  const size_t begin = doc.find(kBegin), end = doc.find(kEnd);
  if (begin == std::string::npos || end == std::string::npos) return "";
  return doc.substr(begin + kBegin.size() + 1, end - begin - kBegin.size() - 1);
}

// Not a bad input: a flag given on the command line, or in a --flagfile, overrides --config's
// file even at the flag's default value (--weight_decay=0 after an upstream config's 1e-4).
TEST(ConfigFileTest, FlagsGivenAtTheirDefaultOverrideTheFile) {
  make_fixtures();
  write_bytes(path("upstream.textproto"), "weight_decay: 0.0001 augment: \"inception\"\n");
  write_bytes(path("defaults.flags"), "--weight_decay=0\n--augment=bit\n");
  int run = 0;
  for (const std::vector<std::string>& given :
       {std::vector<std::string>{"--weight_decay=0", "--augment=bit"},
        std::vector<std::string>{"--flagfile=" + path("defaults.flags")}}) {
    std::vector<std::string> flags = run_with({"--config=" + path("upstream.textproto")},
                                              absl::StrCat("config_run", run++));
    flags.insert(flags.end(), given.begin(), given.end());
    const testing::Finished done =
        testing::run_finetune_binary(flags, {.log_prefix = path("config_run")});
    ASSERT_EQ(done.exit_code, 0) << done.err;
    EXPECT_NE(done.out.find("(train path bit)"), std::string::npos) << done.out;
    EXPECT_NE(done.out.find("weight decay 0\n"), std::string::npos) << done.out;
  }
  // Left out, the file's values stand.
  const testing::Finished done = testing::run_finetune_binary(
      run_with({"--config=" + path("upstream.textproto")}, "config_run"),
      {.log_prefix = path("config_run")});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_NE(done.out.find("(train path inception)"), std::string::npos) << done.out;
  EXPECT_NE(done.out.find("weight decay 0.0001"), std::string::npos) << done.out;
}

TEST(BadInputTest, EachBadInputGivesOneClearLineAndTheDocShowsIt) {
  make_fixtures();
  const std::vector<Row> table = rows();
  ASSERT_GE(table.size(), 30u);
  std::string rendered = "| kind | input | the one line it produces |\n|---|---|---|\n";
  std::vector<std::string> machine_dependent;  // their rows' "| kind | input |"
  for (const Row& row : table) {
    const std::string line = row.line();
    // Abseil reports flag syntax itself ("ERROR: Unknown command line flag 'bacth'").
    EXPECT_TRUE(absl::StartsWith(line, "error: ") || absl::StartsWith(line, "ERROR: "))
        << row.input << ": " << line;
    EXPECT_EQ(line.find('\n'), std::string::npos) << row.input << ": more than one line: " << line;
    for (const std::string& fragment : row.expected) {
      EXPECT_NE(line.find(fragment), std::string::npos)
          << row.input << ": \"" << line << "\" lacks \"" << fragment << "\"";
    }
    rendered += doc_row(row, line);
    if (row.machine_dependent) {
      machine_dependent.push_back(
          doc_row(row, "").substr(0, 8 + row.kind.size() + row.input.size()));
    }
  }
  const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (workspace != nullptr) {  // bazel run: rewrite the doc's table
    const std::string doc_path = std::string(workspace) + "/" + kDoc;
    std::string doc = testing::read_file(doc_path);
    const std::string old = doc_table(doc);
    ASSERT_FALSE(old.empty() && doc.find(kBegin) == std::string::npos) << "no table markers";
    doc.replace(doc.find(kBegin) + kBegin.size() + 1, old.size(), rendered);
    std::ofstream(doc_path) << doc;
    return;
  }
  // Rows whose line depends on the machine are compared by their input only.
  const auto comparable = [&](const std::string& table) {
    std::string kept;
    for (const absl::string_view line : absl::StrSplit(table, '\n')) {
      bool varies = false;
      for (const std::string& prefix : machine_dependent) varies |= absl::StartsWith(line, prefix);
      absl::StrAppend(&kept, varies ? line.substr(0, line.find(" | `")) : line, "\n");
    }
    return without_clang_line_numbers(kept);
  };
  const std::string expected = comparable(doc_table(testing::read_file(kDoc)));
  const std::string actual = comparable(rendered);
  EXPECT_EQ(expected, actual) << "docs/reliability.md's table is stale; regenerate it with "
                                 "`bazel run //tests/train:bad_input_test`";
}

}  // namespace
}  // namespace bitgrad
