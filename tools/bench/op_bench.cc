// Times the CPU backend's conv2d passes (forward, backward data, backward weights) on the
// BiT-R50x1 conv shapes, then the other ops of a BiT step (root zero pad + max pool, relu, add,
// global average pool), printing ms and GFLOP/s per pass and the totals of one training step.
// Activations come in the layout the previous oneDNN op leaves them in (blocked), as in
// training; weights are plain OIHW and reordered by every call, as in training.
//
//   OMP_NUM_THREADS=2 bazel run //tools/bench:op_bench -- --batch=16 --reps=5 --csv
//
// --csv adds "csv,name,fwd_ms,bwd_data_ms,bwd_weight_ms" lines that op_bench_torch.py
// --bitgrad FILE reads to print the ratio to PyTorch.
//
// --versus ALGO (auto, direct or gemm) times every conv pass under both BITGRAD_CONV_ALGO (or
// auto) and ALGO, alternating call by call, and prints a second line per conv: single runs on a
// shared machine swing by more than the differences between two implementations.
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "core/random.h"
#include "ops/conv.h"
#include "ops/cpu/conv/algo.h"
#include "ops/elementwise.h"
#include "ops/norm.h"
#include "ops/pad.h"
#include "ops/pool.h"
#include "ops/reduce.h"
#include "tools/bench/bench_clock.h"

ABSL_FLAG(int64_t, batch, 16, "images per pass");
ABSL_FLAG(int, reps, 5, "timed runs of each pass; the best is printed");
ABSL_FLAG(std::string, shapes, "tools/bench/bit_r50x1_convs.csv",
          "the conv shapes (CSV), relative to the workspace root");
ABSL_FLAG(std::string, filter, "", "only convs and ops whose name contains this");
ABSL_FLAG(bool, csv, false, "also print csv lines for op_bench_torch.py --bitgrad");
ABSL_FLAG(std::string, versus, "",
          "auto, direct or gemm: also time every conv pass under this algorithm");

namespace bitgrad {
namespace {

struct Options {
  int64_t batch;
  int reps;
  bool csv;
  std::string shapes;
  std::string filter;  // only convs and ops whose name contains this
  std::optional<onednn::ConvAlgo> versus;
};

Options options_from_flags() {
  Options options{absl::GetFlag(FLAGS_batch), absl::GetFlag(FLAGS_reps), absl::GetFlag(FLAGS_csv),
                  absl::GetFlag(FLAGS_shapes), absl::GetFlag(FLAGS_filter), std::nullopt};
  const std::string versus = absl::GetFlag(FLAGS_versus);
  if (versus == "auto") {
    options.versus = onednn::ConvAlgo::kAuto;
  } else if (versus == "direct") {
    options.versus = onednn::ConvAlgo::kDirect;
  } else if (versus == "gemm") {
    options.versus = onednn::ConvAlgo::kGemm;
  } else {
    BG_CHECK(versus.empty(), "--versus must be auto, direct or gemm, got '", versus, "'");
  }
  return options;
}

struct ConvShape {
  std::string name;
  int64_t count, in, out, kernel, stride, padding, size;
};

std::vector<ConvShape> read_shapes(const std::string& path) {
  std::ifstream file(path);
  BG_CHECK(file.good(), "op_bench: cannot read ", path, " (run from the workspace root or via ",
           "bazel run, or pass --shapes)");
  std::vector<ConvShape> shapes;
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    std::istringstream parts(line);
    for (std::string field; std::getline(parts, field, ',');) fields.push_back(field);
    BG_CHECK(fields.size() == 8, "op_bench: expected 8 comma-separated fields in ", path,
             ", got: ", line);
    ConvShape s{fields[0]};
    int64_t* numbers[] = {&s.count, &s.in, &s.out, &s.kernel, &s.stride, &s.padding, &s.size};
    for (int i = 0; i < 7; ++i) *numbers[i] = std::stoll(fields[i + 1]);
    shapes.push_back(s);
  }
  return shapes;
}

// The wall time of one call of `run`, in ms.
double time_ms(const std::function<void()>& run) {
  const double start = bench::now_ms();
  run();
  return bench::now_ms() - start;
}

// The best wall time of `reps` runs after two warm-ups, in ms: the machine is shared, and the
// best run is the one least disturbed by other processes.
double best_ms(const std::function<void()>& run, int reps) {
  run();
  run();
  double best = time_ms(run);
  for (int i = 1; i < reps; ++i) best = std::min(best, time_ms(run));
  return best;
}

// A blocked activation of `shape`, as a 1x1 conv (the usual producer) leaves it.
Tensor blocked_activation(const Shape& shape) {
  return conv2d(randn({shape[0], 8, shape[2], shape[3]}), randn({shape[1], 8, 1, 1}));
}

// With --versus: the best times of `run` under the configured conv algorithm and under
// options.versus, the two alternating call by call after a warm-up of each. The order flips
// every round (ABBA...): a call right after another on the same tensors finds them in cache.
std::pair<double, double> best_ms_versus(const std::function<void()>& run, const Options& options) {
  const onednn::ConvAlgo algos[2] = {onednn::conv_algo(), *options.versus};
  double best[2] = {1e300, 1e300};
  for (int i = -1; i < options.reps; ++i) {  // i = -1: warm-up
    for (int k = 0; k < 2; ++k) {
      const int a = (i & 1) != 0 ? 1 - k : k;
      onednn::set_conv_algo(algos[a]);
      const double ms = time_ms(run);
      if (i >= 0) best[a] = std::min(best[a], ms);
    }
  }
  onednn::set_conv_algo(algos[0]);
  return {best[0], best[1]};
}

double gflops(double flops, double ms) { return flops / (ms * 1e6); }

struct Totals {
  double ms = 0, flops = 0, fwd_ms = 0, fwd_flops = 0;
};

// The best times of a conv's three passes (bwd_data stays 0 for the root, whose image needs no
// gradient).
struct PassTimes {
  double fwd = 0, bwd_data = 0, bwd_weight = 0;
};

void print_conv_row(const std::string& name, const std::string& count, const PassTimes& t,
                    bool root, double flops) {
  std::printf("%-26s %3s  %8.2f %6.1f  ", name.c_str(), count.c_str(), t.fwd,
              gflops(flops, t.fwd));
  if (root) {
    std::printf("%8s %6s  ", "-", "-");
  } else {
    std::printf("%8.2f %6.1f  ", t.bwd_data, gflops(flops, t.bwd_data));
  }
  std::printf("%8.2f %6.1f\n", t.bwd_weight, gflops(flops, t.bwd_weight));
}

void bench_conv(const ConvShape& s, const Options& options, Totals& totals) {
  bool root = s.in == 3;
  Shape x_shape = {options.batch, s.in, s.size, s.size};
  Tensor x = root ? randn(x_shape) : blocked_activation(x_shape);
  Tensor w = randn({s.out, s.in, s.kernel, s.kernel});
  Conv2dAttrs attrs{{s.stride, s.stride}, {s.padding, s.padding}};
  Tensor dy = call<Conv2dFwd>(x, w, Tensor(), attrs);  // blocked, the shape of y
  double flops = 2.0 * dy.numel() * s.in * s.kernel * s.kernel;
  // times[0] under the configured algorithm; with --versus, times[1] under the other one, the
  // two timed alternately.
  PassTimes times[2];
  auto time_pass = [&](double PassTimes::*pass, const std::function<void()>& run) {
    if (options.versus) {
      std::tie(times[0].*pass, times[1].*pass) = best_ms_versus(run, options);
    } else {
      times[0].*pass = best_ms(run, options.reps);
    }
  };
  time_pass(&PassTimes::fwd, [&] { call<Conv2dFwd>(x, w, Tensor(), attrs); });
  // The image needs no gradient, so training never runs the root's backward data.
  if (!root) {
    time_pass(&PassTimes::bwd_data, [&] { call<Conv2dBwdData>(dy, w, x.shape(), attrs); });
  }
  time_pass(&PassTimes::bwd_weight, [&] { call<Conv2dBwdWeight>(dy, x, w.shape(), attrs); });
  const PassTimes& t = times[0];
  print_conv_row(s.name, std::to_string(s.count), t, root, flops);
  if (options.versus) print_conv_row("  versus", "", times[1], root, flops);
  if (options.csv) {
    std::printf("csv,%s,%.4f,%.4f,%.4f\n", s.name.c_str(), t.fwd, t.bwd_data, t.bwd_weight);
  }
  totals.ms += s.count * (t.fwd + t.bwd_data + t.bwd_weight);
  totals.flops += s.count * flops * (root ? 2 : 3);
  totals.fwd_ms += s.count * t.fwd;
  totals.fwd_flops += s.count * flops;
}

void bench_other_ops(const Options& options) {
  int64_t n = options.batch;
  std::printf("\n%-44s %8s\n", "other op (blocked activations)", "ms");
  auto line = [&](const std::string& name, const std::function<void()>& run) {
    if (name.find(options.filter) == std::string::npos) return;
    double ms = best_ms(run, options.reps);
    std::printf("%-44s %8.2f\n", name.c_str(), ms);
    if (options.csv) std::printf("csv,%s,%.4f\n", name.c_str(), ms);
  };
  Tensor root_out = blocked_activation({n, 64, 64, 64});
  Tensor padded = pad(root_out, {1, 1, 1, 1});
  Pool2dAttrs pool{{3, 3}, {2, 2}, {0, 0}};
  MaxPool2dResult pooled = call<MaxPool2dFwd>(padded, pool);
  line("root zero pad (Nx64x64x64) -> 66x66", [&] { pad(root_out, {1, 1, 1, 1}); });
  line("root max pool 3x3/2 fwd (Nx64x66x66)", [&] { call<MaxPool2dFwd>(padded, pool); });
  line("root max pool 3x3/2 bwd", [&] {
    call<MaxPool2dBwd>(pooled.y, padded, pooled.workspace, pool);
  });
  line("root pad bwd (crop 66x66 -> 64x64)", [&] { pad(padded, {-1, -1, -1, -1}); });
  Tensor a = blocked_activation({n, 256, 32, 32});
  Tensor b = blocked_activation({n, 256, 32, 32});
  line("relu fwd (Nx256x32x32)", [&] { call<ReluFwd>(a); });
  line("relu bwd (Nx256x32x32)", [&] { call<ReluBwd>(b, a); });
  line("residual add (Nx256x32x32)", [&] { call<BinaryFwd>(a, b, BinaryOp::kAdd); });
  line("to_plain (Nx256x32x32)", [&] { a.to_plain(); });
  // The hand-written memory-bound kernels, against the oneDNN ones above on the same tensor:
  // the GroupNorm forward reads x twice and writes y once, its backward reads 3 and writes 1.
  const GroupNormAttrs gn{32, 1e-5, true};
  Tensor gamma = ones({256}), beta = zeros({256});
  GroupNormResult normed = call<GroupNormFwd>(a, gamma, beta, gn);
  line("group norm + relu fwd (Nx256x32x32)", [&] { call<GroupNormFwd>(a, gamma, beta, gn); });
  line("group norm + relu bwd (Nx256x32x32)", [&] {
    call<GroupNormBwd>(b, a, gamma, beta, normed.mean, normed.rstd, Tensor(), gn);
  });
  Tensor w = randn({512, 512, 3, 3});
  line("weight standardization fwd (512x512x3x3)", [&] { call<WeightStandardizeFwd>(w, 1e-10); });
  Tensor last = blocked_activation({n, 2048, 4, 4});
  line("global average pool (Nx2048x4x4)", [&] { mean(last, {2, 3}, true); });
}

// The CPU allocator keeps freed blocks for reuse up to 1.5x the peak of live memory. A training
// step of BiT-R50x1 at batch 16 peaks at ~800 MB, so a kernel's scratch buffers (Winograd's are
// 12-20 MB) come back from the cache, mapped; a single op's peak is a few MB, and without this
// they would be mapped and page-faulted anew on every call.
void raise_live_peak_as_in_training() {
  constexpr int64_t kTrainingPeakFloats = int64_t{200} << 20;  // 800 MB
  empty({kTrainingPeakFloats});
}

int run(const Options& options) {
  raise_live_peak_as_in_training();
  std::printf("bitgrad CPU backend, %d threads, batch %lld, best of %d runs\n",
              omp_get_max_threads(), static_cast<long long>(options.batch), options.reps);
  std::printf("%-26s %3s  %8s %6s  %8s %6s  %8s %6s\n", "conv", "n", "fwd ms", "GF/s",
              "bwd_d ms", "GF/s", "bwd_w ms", "GF/s");
  Totals totals;
  for (const ConvShape& s : read_shapes(options.shapes)) {
    if (s.name.find(options.filter) == std::string::npos) continue;
    bench_conv(s, options, totals);
  }
  if (totals.ms > 0) {
    std::printf("\nconvs of one step, weighted by count: forward %.0f ms (%.1f GF/s), "
                "forward + backward %.0f ms (%.1f GF/s)\n",
                totals.fwd_ms, gflops(totals.fwd_flops, totals.fwd_ms), totals.ms,
                gflops(totals.flops, totals.ms));
  }
  bench_other_ops(options);
  return 0;
}

}  // namespace
}  // namespace bitgrad

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "op_bench [--batch=16] [--reps=5] [--shapes=FILE] [--filter=TEXT] [--csv] "
      "[--versus=auto|direct|gemm]");
  absl::ParseCommandLine(argc, argv);
  try {
    return bitgrad::run(bitgrad::options_from_flags());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "op_bench: %s\n", e.what());
    return 1;
  }
}
