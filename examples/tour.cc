// One BiT training step on a tiny model, stage by stage, printing what each stage produces: the
// shapes and layouts of its results, the kernels that ran (slot and backend, in order) and the
// time each took. docs/tour.md follows the same step through the code and quotes this output.
//
//   bazel run //examples:tour
//
// The data are random images, so the program needs no files; the model is BiT-R50x1 at 1/16 of
// its width (base width 4, 2 GroupNorm groups) on 32x32 inputs, so the step takes a fraction of a
// second. The stages make the calls bit_finetune's train_update (train/update.cc) makes for one
// update of one micro-batch, less its loss scaling and non-finite check. The tour first runs one
// untraced train_update: oneDNN creates each primitive on its first use and caches it
// (ops/cpu/common/onednn_context.h), and the tour shows the steady state.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "core/profiler.h"
#include "core/random.h"
#include "data/loader.h"
#include "data/mixup.h"
#include "models/bit_resnet_v2.h"
#include "ops/loss.h"
#include "optim/sgd.h"
#include "train/update.h"

using namespace bitgrad;

namespace {

constexpr int64_t kImages = 8, kClasses = 10, kBatch = 4;

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// "float32 (4, 16, 8, 8) onednn:aBcd8b": what a stage hands to the next.
std::string describe(const Tensor& t) {
  return std::string(dtype_name(t.dtype())) + " " + t.shape().str() + " " +
         (t.is_plain() ? "plain" : t.opaque_layout()->name());
}

void heading(int stage, const char* title, const char* where) {
  std::printf("\n== %d. %s  [%s]\n", stage, title, where);
}

// The kernel calls a profiler recorded, in order: slot, backend, milliseconds. Calls a kernel
// made from inside another are indented under it.
void print_calls(const std::vector<KernelCall>& calls) {
  for (const KernelCall& c : calls) {
    std::printf("   %*s%-24s %-7s %8.3f ms\n", 2 * c.depth, "", c.slot.c_str(),
                c.backend.c_str(), c.seconds * 1e3);
  }
}

// Counts and total milliseconds by name, printed in name order: for the stages too long to list.
class Tally {
 public:
  void add(const std::string& name, double ms) {
    auto& [count, total_ms] = entries_[name];
    count += 1;
    total_ms += ms;
  }
  void print(const char* noun) const {
    for (const auto& [name, entry] : entries_) {
      std::printf("   %-34s %4d %s %8.3f ms\n", name.c_str(), entry.first, noun, entry.second);
    }
  }

 private:
  std::map<std::string, std::pair<int, double>> entries_;
};

void print_call_counts(const std::vector<KernelCall>& calls) {
  Tally tally;
  for (const KernelCall& c : calls) {
    if (c.depth > 0) continue;  // counted in the call that made it
    tally.add(c.slot + " (" + c.backend + ")", c.seconds * 1e3);
  }
  tally.print("calls");
}

ImageSet random_images(Generator& generator) {
  ImageSet set;
  set.source = "random images";
  set.pixels = empty({kImages, 40, 40, 3}, DType::kUInt8);
  uint8_t* pixels = set.pixels.mutable_data<uint8_t>();
  for (int64_t i = 0; i < set.pixels.numel(); ++i) pixels[i] = uint8_t(generator.randint(256));
  for (int64_t i = 0; i < kImages; ++i) set.labels.push_back(i % kClasses);
  for (int64_t k = 0; k < kClasses; ++k) set.class_names.push_back("class " + std::to_string(k));
  return set;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) {  // the tour's model and batch are fixed: a flag would change nothing
    std::fprintf(stderr, "tour: takes no flags, got %s (it runs one fixed tiny model; "
                 "tools/bench:bit_bench times other models and sizes)\n", argv[1]);
    return 1;
  }
  Generator generator(0);
  BitConfig config;
  config.head_size = kClasses;
  config.base_width = 4;
  config.num_groups = 2;
  BitResNetV2 model(config);
  model.train();
  Sgd sgd(model.named_parameters(), SgdOptions{.lr = 0.003, .momentum = 0.9});
  Mixup mixup(0.1);
  std::printf("A tiny BiT-%s: %zu parameter tensors, %zu units\n", bit_arch_name(config).c_str(),
              model.named_parameters().size(), model.units.size());

  heading(1, "A batch from the loader", "data/loader.cc");
  LoaderOptions options;
  options.batch_size = kBatch;
  options.resolution = {.precrop = 40, .crop = 32};
  options.workers = 1;
  auto loader = Loader::open(random_images(generator), options);
  if (!loader.ok()) return std::fprintf(stderr, "%s\n", loader.status().ToString().c_str()), 1;
  absl::StatusOr<Batch> warmup = (*loader)->next();
  if (!warmup.ok() || !train_update(model, sgd, 0.003, {*warmup}, mixup, generator).ok()) {
    return std::fprintf(stderr, "the untraced first step failed\n"), 1;
  }
  auto start = Clock::now();
  absl::StatusOr<Batch> batch = (*loader)->next();
  if (!batch.ok()) return std::fprintf(stderr, "%s\n", batch.status().ToString().c_str()), 1;
  std::printf("   images %s, labels %s (%.3f ms)\n", describe(batch->images).c_str(),
              describe(batch->labels).c_str(), ms_since(start));

  heading(2, "Mixup", "data/mixup.cc");
  mixup.start_update(generator);
  MixedBatch mixed = mixup.apply(batch->images, batch->labels, kClasses, generator);
  std::printf("   lam %.4f; images %s, targets %s\n", mixup.lam(), describe(mixed.images).c_str(),
              describe(mixed.targets).c_str());

  // The forward pass, module by module, as BitResNetV2::forward runs it.
  Profiler profiler;
  heading(3, "The root: weight-standardized 7x7 conv, then pad and max-pool",
          "models/bit_resnet_v2.cc");
  profiler.start(/*record_calls=*/true);
  start = Clock::now();
  Tensor h = model.root->forward(mixed.images);
  double root_ms = ms_since(start);
  profiler.stop();
  print_calls(profiler.calls());
  std::printf("   -> %s (%.3f ms)\n", describe(h).c_str(), root_ms);

  heading(4, "The first residual unit: GroupNorm+ReLU, the shortcut, three convs",
          "models/bit_resnet_v2.cc");
  profiler.start(true);
  start = Clock::now();
  h = model.units[0]->forward(h);
  double unit_ms = ms_since(start);
  profiler.stop();
  print_calls(profiler.calls());
  std::printf("   -> %s (%.3f ms)\n", describe(h).c_str(), unit_ms);

  heading(5, "The other units, the head and the loss", "models/bit_resnet_v2.cc, ops/loss.cc");
  profiler.start(true);
  start = Clock::now();
  for (size_t u = 1; u < model.units.size(); ++u) h = model.units[u]->forward(h);
  std::printf("   features %s\n", describe(h).c_str());
  Tensor logits = model.head->logits(model.head->pre_logits(h));
  Tensor loss = cross_entropy(logits, mixed.targets);
  double rest_ms = ms_since(start);
  profiler.stop();
  print_call_counts(profiler.calls());
  std::printf("   logits %s, loss %.4f (%.3f ms)\n", describe(logits).c_str(),
              loss.item<double>(), rest_ms);

  heading(6, "Backward: the engine walks the graph from the loss", "autograd/engine.cc");
  std::vector<std::pair<std::string, double>> nodes;
  BackwardOptions backward_options;
  auto node_start = Clock::now();
  backward_options.after_node = [&](const Node& node) {
    nodes.push_back({node.name(), ms_since(node_start)});
    node_start = Clock::now();
  };
  start = Clock::now();
  profiler.start(true);
  backward(loss, Tensor(), backward_options);
  profiler.stop();
  double backward_ms = ms_since(start);
  std::printf("   %zu nodes; the first 12 in the engine's order:\n", nodes.size());
  for (size_t i = 0; i < nodes.size() && i < 12; ++i) {
    std::printf("   %3zu %-24s %8.3f ms\n", i + 1, nodes[i].first.c_str(), nodes[i].second);
  }
  Tally by_op;
  for (const auto& [name, ms] : nodes) by_op.add(name, ms);
  std::printf("   all %zu nodes by op:\n", nodes.size());
  by_op.print("nodes");
  std::printf("   kernels the backward ran:\n");
  print_call_counts(profiler.calls());
  const Tensor& root_grad = model.root->conv->weight.grad();
  std::printf("   root conv weight gradient %s (%.3f ms in all)\n", describe(root_grad).c_str(),
              backward_ms);

  heading(7, "The SGD update", "optim/sgd.cc");
  const Tensor before = model.root->conv->weight.clone();
  profiler.start(true);
  start = Clock::now();
  sgd.step();
  sgd.zero_grad();
  double step_ms = ms_since(start);
  profiler.stop();
  print_call_counts(profiler.calls());
  const std::vector<float> old_w = before.to_vector<float>();
  const std::vector<float> new_w = model.root->conv->weight.to_vector<float>();
  double change = 0;
  for (size_t i = 0; i < old_w.size(); ++i) {
    change = std::max(change, double(std::fabs(new_w[i] - old_w[i])));
  }
  std::printf("   largest change of a root conv weight: %.3g (%.3f ms)\n", change, step_ms);
  return 0;
}
