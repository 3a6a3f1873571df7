// Times BiT training steps or inference, after warm-up. A training step is bit_finetune's update
// (train/update.h): forward, backward, the check for non-finite gradients, the SGD-momentum step.
//
//   bazel run //tools/bench:bit_bench -- --model=BiT-R50x1 --mode=train --batch=16 --res=128
//
// Prints one line per step, a summary, an optional per-kernel breakdown (--profile), and last
// one JSON object: {"img_per_s": ..., "gflops": ..., "peak_rss_mb": ..., ...} (json_line.h).
// Compare with tools/bench/bit_bench_torch.py, which runs the same configuration in PyTorch.
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "autograd/grad_mode.h"
#include "core/profiler.h"
#include "core/random.h"
#include "core/storage.h"
#include "examples/common/invocation.h"
#include "models/bit_resnet_v2.h"
#include "ops/cpu/common/cpu_isa.h"
#include "ops/cpu/conv/algo.h"
#include "ops/cpu/conv/direct.h"
#include "ops/math_mode.h"
#include "optim/sgd.h"
#include "train/run_config.h"
#include "train/update.h"
#include "tools/bench/bench_clock.h"
#include "tools/bench/json_line.h"

ABSL_FLAG(std::string, model, "BiT-R50x1", "BiT model name, e.g. BiT-R50x1 or BiT-M-R101x3");
ABSL_FLAG(std::string, mode, "train", "train (forward, backward, SGD step) or infer");
ABSL_FLAG(int64_t, batch, 16, "images per step");
ABSL_FLAG(int64_t, res, 128, "input resolution (square)");
ABSL_FLAG(int64_t, steps, 10, "timed steps");
ABSL_FLAG(int64_t, warmup, 2, "untimed steps first (primitive creation, allocator warm-up)");
ABSL_FLAG(int64_t, head, 1000, "classes of the head");
ABSL_FLAG(int64_t, base_width, 0,
          "root width before the width factor (0: the official 64); 8 with --num_groups=4 is "
          "bit_finetune's default experiment");
ABSL_FLAG(int64_t, num_groups, 0, "GroupNorm groups (0: the official 32)");
ABSL_FLAG(std::string, device, "cpu", "cpu or cuda");
ABSL_FLAG(std::string, dtype, "fp32",
          "fp32, or bf16: bf16 autocast of the convolutions (ops/math_mode.h)");
ABSL_FLAG(int, threads, 0, "OpenMP threads (0: OMP_NUM_THREADS, else all cores)");
ABSL_FLAG(bool, profile, false, "print the time per kernel over the timed steps");

namespace bitgrad {
namespace {

rusage resource_usage() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage;
}

// What the CPU backend chose on this machine, as a benchmark must record it: oneDNN's channel
// block (which sets the conv rules, ops/cpu/conv/algo.h) and the hand-written kernels' ISA. Both
// follow DNNL_MAX_CPU_ISA, so this also shows that a cap took effect.
std::string cpu_kernels() {
  return absl::StrFormat("nChw%dc blocks, %s conv rules, %s kernels",
                         onednn::activation_channel_block(),
                         onednn::conv_rules() == onednn::ConvRules::kAvx512 ? "AVX-512" : "AVX2",
                         cpu::cpu_isa_name(cpu::active_cpu_isa()));
}

// The numeric flags' bounds, checked before any work: --steps=0 left no timing to report.
absl::Status check_count_flags() {
  struct Bound {
    const char* flag;
    int64_t value, min;
    const char* meaning;
  };
  const Bound bounds[] = {
      {"batch", absl::GetFlag(FLAGS_batch), 1, "images per step"},
      {"res", absl::GetFlag(FLAGS_res), BitConfig::kMinResolution,
       "BiT ResNet-v2 halves its input 5 times"},
      {"steps", absl::GetFlag(FLAGS_steps), 1, "the timed steps give the result"},
      {"warmup", absl::GetFlag(FLAGS_warmup), 0, "untimed steps"},
      {"head", absl::GetFlag(FLAGS_head), 1, "classes"},
      {"base_width", absl::GetFlag(FLAGS_base_width), 0, "0: the official 64"},
      {"num_groups", absl::GetFlag(FLAGS_num_groups), 0, "0: the official 32"},
      {"threads", absl::GetFlag(FLAGS_threads), 0, "0: OMP_NUM_THREADS, else all cores"},
  };
  for (const Bound& bound : bounds) {
    if (bound.value < bound.min) {
      return absl::InvalidArgumentError(absl::StrCat("--", bound.flag, "=", bound.value,
                                                     ": must be >= ", bound.min, " (",
                                                     bound.meaning, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status run() {
  std::string name = absl::GetFlag(FLAGS_model);
  std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "train" && mode != "infer") {
    return absl::InvalidArgumentError(
        absl::StrCat("--mode: expected train or infer, got \"", mode, "\""));
  }
  if (absl::Status s = check_count_flags(); !s.ok()) return s;
  absl::StatusOr<BitConfig> parsed = bit_config_from_name(name.rfind("BiT-R", 0) == 0
                                                              ? name.substr(4)
                                                              : name);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--model: ", parsed.status().message()));
  }
  if (absl::GetFlag(FLAGS_threads) > 0) omp_set_num_threads(absl::GetFlag(FLAGS_threads));
  bool train = mode == "train";
  int64_t batch = absl::GetFlag(FLAGS_batch), res = absl::GetFlag(FLAGS_res);
  if (absl::Status s = check_device_flag(absl::GetFlag(FLAGS_device)); !s.ok()) return s;
  const Device device = Device::from_flag(absl::GetFlag(FLAGS_device));
  const std::string dtype = absl::GetFlag(FLAGS_dtype);
  if (std::string problem = dtype_flag_problem(dtype, device.type); !problem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--dtype: ", problem));
  }
  set_bf16_autocast_enabled(dtype == "bf16");

  BitConfig config = *parsed;
  config.head_size = absl::GetFlag(FLAGS_head);
  if (absl::GetFlag(FLAGS_base_width) > 0) config.base_width = absl::GetFlag(FLAGS_base_width);
  if (absl::GetFlag(FLAGS_num_groups) > 0) config.num_groups = absl::GetFlag(FLAGS_num_groups);
  if (absl::Status s = check_width_flags(config); !s.ok()) return s;
  BitResNetV2 model(config);
  model.to(device);
  if (!train) model.eval();
  const SgdOptions sgd_options{.lr = 0.003, .momentum = 0.9};  // BiT fine-tuning's
  Sgd sgd(model.named_parameters(), sgd_options);
  Generator generator(0);
  Tensor x = rand({batch, 3, res, res}, -1.0, 1.0, DType::kFloat32, device, generator);
  std::vector<int64_t> labels(batch);
  for (int64_t& label : labels) label = generator.randint(config.head_size);
  Tensor y = from_vector(labels, {batch}, device);

  const std::vector<Batch> batch_of_one_micro_batch = {Batch{0, x, y, {}}};
  Mixup no_mixup(0);
  auto step = [&] {
    if (train) {
      absl::StatusOr<double> loss =
          train_update(model, sgd, sgd_options.lr, batch_of_one_micro_batch, no_mixup, generator);
      BG_CHECK(loss.ok(), loss.status().message());
      return *loss;  // train_update read it: the device is done
    }
    NoGradGuard no_grad;
    return model(x).to_vector<float>()[0] * 0.0;
  };

  const double flops_per_step =
      static_cast<double>(bit_forward_flops(config, res)) * batch * (train ? 3 : 1);
  const std::string arch =
      config.is_narrowed() ? bit_arch_description(config) : bit_arch_name(config);
  std::cout << absl::StrFormat(
      "%s %s, batch %d at %dx%d on %s, %d OpenMP threads, %.1f GFLOP/step\n", arch, mode, batch,
      res, res, device.str(), omp_get_max_threads(), flops_per_step / 1e9);
  const std::string kernels = device.is_cuda() ? "cuda" : cpu_kernels();
  std::cout << "kernels: " << kernels << "\n";
  int64_t warmup = absl::GetFlag(FLAGS_warmup), steps = absl::GetFlag(FLAGS_steps);
  Profiler profiler;
  std::vector<double> seconds;
  // Page faults in the timed steps: nonzero means memory is being returned to the OS and
  // faulted back in every step, the allocator churn the CPU cache exists to prevent.
  long faults_before_timed_steps = 0;
  for (int64_t i = 0; i < warmup + steps; ++i) {
    if (i == warmup) faults_before_timed_steps = resource_usage().ru_minflt;
    if (i == warmup && absl::GetFlag(FLAGS_profile)) profiler.start();
    const double start_ms = bench::now_ms();
    step();
    const double elapsed = (bench::now_ms() - start_ms) / 1e3;
    if (i >= warmup) seconds.push_back(elapsed);
    std::cout << absl::StrFormat("step %d/%d%s: %.0f ms, %.2f img/s\n", i + 1, warmup + steps,
                                 i < warmup ? " (warm-up)" : "", elapsed * 1e3, batch / elapsed);
  }
  if (absl::GetFlag(FLAGS_profile)) {
    profiler.stop();
    std::cout << "\nper-kernel time over " << steps << " timed steps:\n" << profiler.report();
  }

  rusage usage = resource_usage();
  double faults_per_step = double(usage.ru_minflt - faults_before_timed_steps) / steps;
  std::sort(seconds.begin(), seconds.end());
  double median = seconds[seconds.size() / 2];
  std::cout << bench::JsonLine()
                   .add("framework", "bitgrad")
                   .add("model", name)
                   .add("mode", mode)
                   .add("dtype", dtype)
                   .add("batch", batch)
                   .add("res", res)
                   .add("threads", omp_get_max_threads())
                   .add("kernels", kernels)
                   .add("img_per_s", batch / median)
                   .add("step_ms", median * 1e3)
                   .add("gflops", flops_per_step / median / 1e9)
                   .add("peak_rss_mb", usage.ru_maxrss / 1024.0)
                   .add("page_faults_per_step", faults_per_step)
                   .str()
            << "\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace bitgrad

int main(int argc, char** argv) {
  return bitgrad::run_program(
      argc, argv, "bit_bench [--model=BiT-R50x1] [--mode=train|infer] [--batch=16] [--res=128]",
      bitgrad::run);
}
