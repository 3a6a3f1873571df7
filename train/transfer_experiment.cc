#include "train/transfer_experiment.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "core/stopwatch.h"
#include "data/datasets.h"
#include "io/atomic_file.h"
#include "models/checkpoint.h"
#include "models/train_state.h"
#include "train/model_init.h"
#include "train/progress.h"
#include "train/run.h"
#include "train/run_config.h"
#include "train/stop_signals.h"

namespace bitgrad {
namespace {

// Each half has garments and shoes, so that upstream features can help downstream. Of the
// splits like that, the downstream half is the one that 10 images per class separate worst from
// the pixels alone (nearest neighbour: 59.5%, 3,4,6,7,9 gives 76.6%;
// tools/datasets/fashion_mnist_splits.py): where those 50 images already do well, an upstream
// model has little to add. The upstream half holds a sibling for each: T-shirt and Dress for
// the three tops, Ankle boot for the two shoes.
const std::vector<int64_t> kUpstreamClasses = {0, 1, 3, 8, 9};    // T-shirt/top, Trouser,
                                                                 // Dress, Bag, Ankle boot
const std::vector<int64_t> kDownstreamClasses = {2, 4, 5, 6, 7};  // Pullover, Coat, Sandal,
                                                                 // Shirt, Sneaker
constexpr int64_t kShots = 10;  // downstream training examples per class

// The RunConfig fields taken from the user (check_transfer_experiment_flags).
constexpr std::array<const char*, 5> kUserFields = {"dataset", "seed", "workers", "eval_every",
                                                    "out"};

// The architecture and input size both stages use: chosen so that the whole experiment fits
// in ten minutes on two cores (docs/transfer_experiments.md has the measurements).
void set_model(RunConfig& c) {
  c.set_model("R50x1");
  c.set_base_width(8);  // 1/8 of the official width: 0.37M parameters
  c.set_num_groups(4);  // 2 channels per group in the narrowest GroupNorm, as in R50x1
  c.set_resolution(32);  // 28x28 images are resized to 32
}

// The train paths, at the eval path's scale (docs/transfer_experiments.md has the measurements).
// Upstream, translations and flips: the model learns to find a garment anywhere in the frame,
// which transfers (flips alone reach a higher upstream accuracy and a 4 points lower gain).
// The fine-tuning flips only: over 40 draws that adds 0.8 points to the transfer arm, which
// already knows translations, and the gain rises by 1.4. BiT's own train path resizes 28x28
// images to 40 and crops 32: the crop cuts the garments' edges and the scale differs by 25%
// from the eval path, which costs 3.5 points upstream.
constexpr char kUpstreamAugment[] = "shift";
constexpr char kFinetuneAugment[] = "flip";

RunConfig upstream_config(const RunConfig& user, const TransferSchedule& schedule) {
  RunConfig c;
  set_model(c);
  c.set_dataset(user.dataset());
  c.set_weights("random");
  c.set_batch(64);
  c.set_batch_split(1);
  c.set_steps(schedule.upstream_steps);
  c.set_eval_batch(250);
  c.set_base_lr(0.1);
  c.set_schedule("hyperrule");
  c.set_mixup_alpha(0);
  c.set_augment(kUpstreamAugment);
  c.set_shuffle(true);
  c.set_seed(user.seed());
  c.set_workers(user.workers());
  return c;
}

RunConfig downstream_config(const RunConfig& user, const TransferSchedule& schedule,
                            const std::string& weights, uint64_t seed) {
  RunConfig c;
  set_model(c);
  c.set_dataset(user.dataset());
  c.set_weights(weights);
  c.set_zero_head(true);
  c.set_examples_per_class(kShots);
  c.set_batch(16);
  c.set_batch_split(1);
  c.set_eval_batch(250);
  c.set_steps(schedule.downstream_steps);
  c.set_base_lr(0.01);
  c.set_schedule("hyperrule");
  c.set_mixup_alpha(-1);    // the HyperRule's: off under 20k examples
  c.set_augment(kFinetuneAugment);
  c.set_shuffle(true);
  c.set_seed(seed);
  c.set_workers(user.workers());
  c.set_eval_every(user.eval_every());
  return c;
}

// The names of `classes` in `set`, in that order.
std::vector<std::string> class_names_of(const ImageSet& set, const std::vector<int64_t>& classes) {
  std::vector<std::string> names;
  for (int64_t k : classes) names.push_back(set.class_names[k]);
  return names;
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
  part.class_names = class_names_of(set, classes);
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
  absl::StatusOr<LoadedBitModel> model = initial_model(config, data.train.class_names);
  if (!model.ok()) return model.status();
  out << "model: " << model->message << "\n";
  absl::StatusOr<FinetuneResult> result = finetune(*model->model, data, config, out);
  if (const int signal = stopping_signal(result.status()); signal != 0) {
    // The experiment takes no --resume: its stages start over, from the cached upstream model.
    return stopped_by_signal(
        signal, absl::StrCat("the transfer experiment was stopped by ", signal_name(signal),
                             "; run it again to start over (an upstream model it finished is "
                             "cached)"));
  }
  if (result.ok() && after) after(*model->model);
  return result;
}

// When the file at path was last written, in local time ("2026-12-06 12:01").
std::string modification_time(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return "at an unknown time";
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromTimeT(info.st_mtime),
                          absl::LocalTimeZone());
}

// Why the cached file at `path` is not the upstream model of `config` on `classes`, or "" when
// it is: unreadable (a full disk when it was copied, say), or trained on other classes or with
// other settings (another file copied over it) than its name's hash stands for.
std::string cached_model_problem(const std::string& path, const RunConfig& config,
                                 const std::vector<std::string>& classes) {
  absl::StatusOr<Checkpoint> cached = load_checkpoint(path);
  if (!cached.ok()) return absl::StrCat("unreadable: ", cached.status().message());
  if (cached->class_names != classes) {
    return absl::StrCat("its classes are ", absl::StrJoin(cached->class_names, ", "),
                        "; expected ", absl::StrJoin(classes, ", "));
  }
  absl::StatusOr<RunConfig> trained = parse_run_config(cached->config, path);
  if (!trained.ok()) return absl::StrCat("its settings: ", trained.status().message());
  const std::string differences =
      differing_settings(computed_settings(*trained), computed_settings(config), "in the file",
                         "expected");
  return differences.empty() ? "" : absl::StrCat("trained with other settings: ", differences);
}

// The cached upstream model, trained first when absent. The file name carries a hash of the
// upstream settings and classes (which the RunConfig does not hold), so changing either trains
// a new one; settings that change how it is trained, not what, do not (computed_settings).
absl::StatusOr<std::string> upstream_model(const RunConfig& user,
                                           const TransferSchedule& schedule,
                                           const Dataset& fashion, std::ostream& out) {
  RunConfig config = upstream_config(user, schedule);
  const std::string path = absl::StrFormat(
      "%s/fashion_mnist_upstream_%016x.ckpt", bitgrad_cache_dir(),
      std::hash<std::string>()(run_config_text(computed_settings(config)) +
                               class_list(kUpstreamClasses)));
  if (std::filesystem::exists(path)) {
    const std::string problem =
        cached_model_problem(path, config, class_names_of(fashion.train, kUpstreamClasses));
    if (problem.empty()) {
      // The name does not follow bitgrad's code: say when the model was made.
      out << "== upstream: cached " << path << ", written " << modification_time(path)
          << " (delete it to train it again, as after an update that changes the arithmetic)\n";
      return path;
    }
    out << "== upstream: the cached model is not usable (" << problem << "); training it again\n";
  }
  out << "== upstream: training on " << class_list(kUpstreamClasses) << " (cached afterwards in "
      << path << ")\n";
  config.set_out(subfolder(user, "upstream"));
  if (absl::Status s = check_run_config(config); !s.ok()) return s;
  if (std::error_code error; !std::filesystem::create_directories(bitgrad_cache_dir(), error) &&
                             error) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create the cache folder ", bitgrad_cache_dir(), " for the upstream model: ",
        error.message(), " (it is $XDG_CACHE_HOME/bitgrad, else ~/.cache/bitgrad)"));
  }
  // Before the training, not after it.
  if (absl::Status writable = check_writable_path(path); !writable.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the upstream model's cache: ", writable.message()));
  }
  absl::Status saved;
  const Dataset upstream_data = class_subset(fashion, kUpstreamClasses);
  absl::StatusOr<FinetuneResult> result =
      train(config, upstream_data, out, [&](BitResNetV2& model) {
        TrainState state{&model};
        state.config = run_config_text(config);
        state.class_names = upstream_data.train.class_names;
        state.input_resolution = config.resolution();
        saved = save_train_state(path, state);
      });
  if (!result.ok()) return result.status();
  if (!saved.ok()) return saved;
  out << "upstream: " << summary_line(*result) << "\n";
  return path;
}

double mean_of(const std::vector<double>& values) {
  double sum = 0;
  for (double value : values) sum += value;
  return values.empty() ? 0 : sum / values.size();
}

double mean_top1(const std::vector<FinetuneResult>& runs) {
  std::vector<double> top1;
  for (const FinetuneResult& run : runs) top1.push_back(run.test.top1);
  return mean_of(top1);
}

// Top-1 of class `c` over all the runs' test images (every draw tests on the same images, so
// this is the mean over the draws).
double pooled_class_top1(const std::vector<FinetuneResult>& runs, size_t c) {
  int64_t top1 = 0, examples = 0;
  for (const FinetuneResult& run : runs) {
    top1 += run.test.class_top1[c];
    examples += run.test.class_examples[c];
  }
  return examples > 0 ? static_cast<double>(top1) / examples : 0;
}

// Test top-1 of both arms for each draw, their means, the gain with its standard error, and
// the same by class: where the gain comes from.
void print_report(uint64_t first_seed, const TransferResult& result,
                  const std::vector<std::string>& class_names, double seconds, std::ostream& out) {
  out << absl::StrFormat(
      "\nFashion-MNIST %s, %d training examples per class; test top-1 of each few-shot draw,\n"
      "fine-tuned from the upstream model (%s) and from random init:\n",
      class_list(kDownstreamClasses), kShots, class_list(kUpstreamClasses));
  out << "  seed   transfer   scratch     gain\n";
  const std::vector<double> gains = result.draw_gains();
  for (size_t i = 0; i < gains.size(); ++i) {
    out << absl::StrFormat("  %4d    %6.2f%%   %6.2f%%   %+6.2f\n", first_seed + i,
                           100 * result.transfer[i].test.top1, 100 * result.scratch[i].test.top1,
                           100 * gains[i]);
  }
  out << absl::StrFormat("  mean    %6.2f%%   %6.2f%%   %+6.2f\n", 100 * mean_top1(result.transfer),
                         100 * mean_top1(result.scratch), 100 * result.mean_gain());
  size_t width = 5;  // "class"
  for (const std::string& name : class_names) width = std::max(width, name.size());
  out << absl::StrFormat("by class, over the draws:\n  %-*s   transfer   scratch     gain\n",
                         static_cast<int>(width), "class");
  for (size_t c = 0; c < class_names.size(); ++c) {
    const double transfer = pooled_class_top1(result.transfer, c);
    const double scratch = pooled_class_top1(result.scratch, c);
    out << absl::StrFormat("  %-*s    %6.2f%%   %6.2f%%   %+6.2f\n", static_cast<int>(width),
                           class_names[c], 100 * transfer, 100 * scratch,
                           100 * (transfer - scratch));
  }
  out << absl::StrFormat(
      "transfer gain: %+.2f points, standard error %.2f (%d draws)\ntotal time %s\n",
      100 * result.mean_gain(), 100 * result.gain_standard_error(), gains.size(),
      format_duration(seconds));
}

}  // namespace

std::vector<double> TransferResult::draw_gains() const {
  std::vector<double> gains(std::min(transfer.size(), scratch.size()));
  for (size_t i = 0; i < gains.size(); ++i) gains[i] = transfer[i].test.top1 - scratch[i].test.top1;
  return gains;
}

double TransferResult::mean_gain() const { return mean_of(draw_gains()); }

double TransferResult::gain_standard_error() const {
  const std::vector<double> gains = draw_gains();
  const size_t n = gains.size();
  if (n < 2) return 0;
  const double mean = mean_of(gains);
  double sum_of_squares = 0;
  for (double gain : gains) sum_of_squares += (gain - mean) * (gain - mean);
  return std::sqrt(sum_of_squares / (n - 1) / n);
}

std::string bitgrad_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return absl::StrCat(xdg, "/bitgrad");
  }
  const char* home = std::getenv("HOME");
  return absl::StrCat(home != nullptr ? home : "/tmp", "/.cache/bitgrad");
}

absl::Status check_transfer_experiment_flags(const RunConfig& config) {
  absl::StatusOr<std::vector<std::string>> changed = fields_off_their_defaults(config);
  if (!changed.ok()) return changed.status();
  for (const std::string& field : *changed) {
    if (absl::c_linear_search(kUserFields, absl::string_view(field))) continue;
    return absl::InvalidArgumentError(absl::StrCat(
        "--", field, ": without --weights, bit_finetune runs its transfer experiment, which sets "
        "this itself and takes only --", absl::StrJoin(kUserFields, ", --"),
        "; give --weights (a .npz, a checkpoint or \"random\") to train with your settings"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TransferResult> run_transfer_experiment(const RunConfig& user, std::ostream& out,
                                                       const TransferSchedule& schedule) {
  const SteadyClock::time_point start = SteadyClock::now();
  absl::StatusOr<DatasetSpec> spec = parse_dataset_spec(user.dataset());
  if (!spec.ok()) return spec.status();
  if (spec->format != DatasetFormat::kFashionMnist) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--weights: needed with --dataset=", user.dataset(),
        " (a .npz, a checkpoint or \"random\"); without it, bit_finetune runs its transfer "
        "experiment, which is for Fashion-MNIST only"));
  }
  absl::StatusOr<Dataset> fashion = load_dataset_spec(*spec);
  if (!fashion.ok()) return fashion.status();

  TransferResult result;
  absl::StatusOr<std::string> upstream = upstream_model(user, schedule, *fashion, out);
  if (!upstream.ok()) return upstream.status();
  result.upstream_checkpoint = *upstream;

  const Dataset downstream = class_subset(*fashion, kDownstreamClasses);
  const SteadyClock::time_point draws_start = SteadyClock::now();
  const int runs = 2 * schedule.few_shot_draws;  // both arms of every draw
  // One draw of kShots images per class moves either arm's accuracy by about 3 points, and the
  // gain by 4; the mean of ten draws pins it to about 1. Both arms of a draw train on the same
  // images, so each draw's gain is paired.
  for (int draw = 0; draw < schedule.few_shot_draws; ++draw) {
    const uint64_t seed = user.seed() + draw;
    absl::StatusOr<Dataset> data =
        few_shot_data(downstream, downstream_config(user, schedule, "random", seed));
    if (!data.ok()) return data.status();
    for (const bool pretrained : {true, false}) {
      RunConfig config = downstream_config(user, schedule, pretrained ? *upstream : "random", seed);
      const std::string arm = pretrained ? "transfer" : "scratch";
      config.set_out(subfolder(user, absl::StrCat(arm, "/seed_", seed)));
      if (absl::Status s = check_run_config(config); !s.ok()) return s;
      const int done = 2 * draw + (pretrained ? 0 : 1);
      out << "== " << arm << ", few-shot draw " << draw + 1 << " of " << schedule.few_shot_draws
          << " (seed " << seed << "): "
          << (pretrained ? "fine-tuning the upstream model"
                         : "the same fine-tuning from random init")
          << " on " << kShots << " examples per class of " << class_list(kDownstreamClasses)
          << (done == 0 ? ""
                        : absl::StrCat(" (run ", done + 1, " of ", runs, ", ETA ",
                                       format_duration(
                                           seconds_left(seconds_since(draws_start), done, runs)),
                                       ")"))
          << "\n";
      absl::StatusOr<FinetuneResult> run = train(config, *data, out);
      if (!run.ok()) return run.status();
      (pretrained ? result.transfer : result.scratch).push_back(*run);
    }
  }
  print_report(user.seed(), result, downstream.test.class_names, seconds_since(start), out);
  return result;
}

}  // namespace bitgrad
