#include "train/transfer_experiment.h"

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/stopwatch.h"
#include "data/datasets.h"
#include "models/train_state.h"
#include "train/model_init.h"
#include "train/progress.h"
#include "train/run.h"
#include "train/run_config.h"

namespace bitgrad {
namespace {

// Each half has garments and shoes, so that upstream features can help downstream; and the
// downstream half holds the hard pairs (Coat/Shirt, Sneaker/Ankle boot) that 50 images alone
// cannot separate well.
const std::vector<int64_t> kUpstreamClasses = {0, 1, 2, 5, 8};    // T-shirt/top, Trouser,
                                                                 // Pullover, Sandal, Bag
const std::vector<int64_t> kDownstreamClasses = {3, 4, 6, 7, 9};  // Dress, Coat, Shirt,
                                                                 // Sneaker, Ankle boot

// The architecture and input size both stages use: chosen so that the whole experiment fits
// in ten minutes on two cores (docs/bit_finetune.md has the measurements).
void set_model(RunConfig& c) {
  c.set_model("R50x1");
  c.set_base_width(8);  // 1/8 of the official width: 0.37M parameters
  c.set_num_groups(4);  // 2 channels per group in the narrowest GroupNorm, as in R50x1
  c.set_resolution(32);  // 28x28 images are resized to 32 (kAugment below: no crop)
}

// The eval path (resize only) for both stages. BiT's train path resizes 28x28 images to 40 and
// crops 32: the crop cuts the garments' edges and the scale differs by 25% from the eval path,
// which costs 3.5 points upstream and 17 on full Fashion-MNIST (docs/bit_finetune.md).
constexpr char kAugment[] = "none";

RunConfig upstream_config(const RunConfig& user) {
  RunConfig c;
  set_model(c);
  c.set_dataset(user.dataset());
  c.set_weights("random");
  c.set_batch(64);
  c.set_batch_split(1);
  c.set_steps(1000);
  c.set_eval_batch(250);
  c.set_base_lr(0.1);
  c.set_schedule("hyperrule");
  c.set_mixup_alpha(0);
  c.set_augment(kAugment);
  c.set_shuffle(true);
  c.set_seed(user.seed());
  c.set_workers(user.workers());
  return c;
}

RunConfig downstream_config(const RunConfig& user, const std::string& weights) {
  RunConfig c;
  set_model(c);
  c.set_dataset(user.dataset());
  c.set_weights(weights);
  c.set_zero_head(true);
  c.set_examples_per_class(10);
  c.set_batch(16);
  c.set_batch_split(1);
  c.set_eval_batch(250);
  c.set_steps(0);           // the HyperRule's: 500 updates for 50 examples
  c.set_base_lr(0.01);
  c.set_schedule("hyperrule");
  c.set_mixup_alpha(-1);    // the HyperRule's: off under 20k examples
  c.set_augment(kAugment);
  c.set_shuffle(true);
  c.set_seed(user.seed());
  c.set_workers(user.workers());
  c.set_eval_every(user.eval_every());
  return c;
}

// The examples of `classes`, relabeled 0 .. classes.size() - 1 in that order.
ImageSet class_subset(const ImageSet& set, const std::vector<int64_t>& classes) {
  std::vector<int64_t> new_label(set.num_classes(), -1);
  for (size_t k = 0; k < classes.size(); ++k) new_label[classes[k]] = static_cast<int64_t>(k);
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < set.size(); ++i) {
    if (new_label[set.labels[i]] >= 0) indices.push_back(i);
  }
  ImageSet part = set.subset(indices);
  for (int64_t& label : part.labels) label = new_label[label];
  part.class_names.clear();
  for (int64_t k : classes) part.class_names.push_back(set.class_names[k]);
  return part;
}

Dataset class_subset(const Dataset& data, const std::vector<int64_t>& classes) {
  return {class_subset(data.train, classes), class_subset(data.test, classes)};
}

std::string class_list(const std::vector<int64_t>& classes) {
  return absl::StrCat("classes ", absl::StrJoin(classes, ","));
}

std::string subfolder(const RunConfig& user, const std::string& name) {
  return user.out().empty() ? "" : absl::StrCat(user.out(), "/", name);
}

// Loads a dataset's model per `config` and fine-tunes it.
absl::StatusOr<FinetuneResult> train(const RunConfig& config, const Dataset& data,
                                     std::ostream& out, const std::function<void(BitResNetV2&)>&
                                                            after = nullptr) {
  absl::StatusOr<LoadedBitModel> model = initial_model(config, data.train.num_classes());
  if (!model.ok()) return model.status();
  out << "model: " << model->message << "\n";
  absl::StatusOr<FinetuneResult> result = finetune(*model->model, data, config, out);
  if (result.ok() && after) after(*model->model);
  return result;
}

// The cached upstream model, trained first when absent. The file name carries a hash of the
// upstream settings, so changing them trains a new one.
absl::StatusOr<std::string> upstream_model(const RunConfig& user, const Dataset& fashion,
                                           std::ostream& out) {
  RunConfig config = upstream_config(user);
  const std::string path = absl::StrFormat(
      "%s/fashion_mnist_upstream_%016x.ckpt", bitgrad_cache_dir(),
      std::hash<std::string>()(run_config_text(config)));
  if (std::filesystem::exists(path)) {
    out << "== upstream: cached " << path << "\n";
    return path;
  }
  out << "== upstream: training on " << class_list(kUpstreamClasses) << " (cached afterwards in "
      << path << ")\n";
  config.set_out(subfolder(user, "upstream"));
  if (absl::Status s = check_run_config(config); !s.ok()) return s;
  std::filesystem::create_directories(bitgrad_cache_dir());
  absl::Status saved;
  absl::StatusOr<FinetuneResult> result =
      train(config, class_subset(fashion, kUpstreamClasses), out, [&](BitResNetV2& model) {
        TrainState state{&model};
        state.config = run_config_text(config);
        saved = save_train_state(path, state);
      });
  if (!result.ok()) return result.status();
  if (!saved.ok()) return saved;
  out << "upstream: " << summary_line(*result) << "\n";
  return path;
}

}  // namespace

std::string bitgrad_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return absl::StrCat(xdg, "/bitgrad");
  }
  const char* home = std::getenv("HOME");
  return absl::StrCat(home != nullptr ? home : "/tmp", "/.cache/bitgrad");
}

absl::StatusOr<TransferResult> run_transfer_experiment(const RunConfig& user, std::ostream& out) {
  const SteadyClock::time_point start = SteadyClock::now();
  absl::StatusOr<DatasetSpec> spec = parse_dataset_spec(user.dataset());
  if (!spec.ok()) return spec.status();
  if (spec->format != DatasetFormat::kFashionMnist) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--weights: needed with --dataset=", user.dataset(),
        " (a .npz, a checkpoint or \"random\"); without it, bit_finetune runs its transfer "
        "experiment, which is for Fashion-MNIST only"));
  }
  absl::StatusOr<Dataset> fashion = load_dataset(spec->format, spec->path);
  if (!fashion.ok()) return fashion.status();

  TransferResult result;
  absl::StatusOr<std::string> upstream = upstream_model(user, *fashion, out);
  if (!upstream.ok()) return upstream.status();
  result.upstream_checkpoint = *upstream;

  const Dataset downstream = class_subset(*fashion, kDownstreamClasses);
  for (const bool pretrained : {true, false}) {
    RunConfig config = downstream_config(user, pretrained ? *upstream : "random");
    config.set_out(subfolder(user, pretrained ? "transfer" : "scratch"));
    if (absl::Status s = check_run_config(config); !s.ok()) return s;
    out << (pretrained ? "== transfer: fine-tuning the upstream model"
                       : "== scratch: the same fine-tuning from random init")
        << " on 10 examples per class of " << class_list(kDownstreamClasses) << "\n";
    absl::StatusOr<Dataset> data = few_shot_data(downstream, config);
    if (!data.ok()) return data.status();
    absl::StatusOr<FinetuneResult> run = train(config, *data, out);
    if (!run.ok()) return run.status();
    (pretrained ? result.transfer : result.scratch) = *run;
  }
  const double seconds = seconds_since(start);
  out << absl::StrFormat(
      "\nFashion-MNIST %s, 10 training examples per class, test top-1:\n"
      "  from the upstream model (%s): %6.2f%%\n"
      "  from random init:                          %6.2f%%\n"
      "  transfer gain:                             %+6.2f points\n"
      "total time %s\n",
      class_list(kDownstreamClasses), class_list(kUpstreamClasses), 100 * result.transfer.test.top1, 100 * result.scratch.test.top1,
      100 * (result.transfer.test.top1 - result.scratch.test.top1), format_duration(seconds));
  return result;
}

}  // namespace bitgrad
