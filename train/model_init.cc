#include "train/model_init.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "autograd/grad_mode.h"
#include "data/labels.h"
#include "models/predict.h"
#include "train/run_config.h"

namespace bitgrad {
namespace {

int64_t or_official(int64_t value, int64_t official) { return value > 0 ? value : official; }

// A new head under the sigmoid loss starts every class at probability 1/K, as a zero head starts
// the softmax: bias -log(K - 1) (-10.0 for ImageNet-21k's 21843 classes, big_vision's head-bias
// init), so the first updates are not spent pushing the K - 1 negatives of each image down.
void start_sigmoid_at_one_in_k(const RunConfig& config, LoadedBitModel& loaded) {
  const int64_t classes = loaded.model->config().head_size;
  if (loss_name(config) != kSigmoidLoss || classes < 2) return;
  const double bias = -std::log(static_cast<double>(classes - 1));
  NoGradGuard no_grad;
  loaded.model->head->conv->bias.fill_(bias);
  absl::StrAppend(&loaded.message, absl::StrFormat(" (bias %.3f: each sigmoid starts at 1/%d)",
                                                   bias, classes));
}

// Names that are the class indices, "0" .. "K-1": what a reader gives classes it has no names
// for (an npz without FILE.labels.txt, CIFAR without its meta file), which tells nothing.
bool index_names(const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] != std::to_string(i)) return false;
  }
  return true;
}

}  // namespace

std::string class_names_difference(const std::vector<std::string>& file,
                                   const std::vector<std::string>& dataset) {
  if (file == dataset || index_names(file) || index_names(dataset)) return "";
  for (size_t i = 0; i < std::min(file.size(), dataset.size()); ++i) {
    if (file[i] != dataset[i]) {
      return absl::StrFormat("class %d is \"%s\" there and \"%s\" here", i, file[i],
                             dataset[i]);
    }
  }
  return absl::StrFormat("%d classes there, %d here", file.size(), dataset.size());
}

absl::StatusOr<LoadedBitModel> initial_model(const RunConfig& config,
                                             const std::vector<std::string>& class_names) {
  const int64_t num_classes = static_cast<int64_t>(class_names.size());
  if (config.weights() == "random") {
    absl::StatusOr<BitConfig> bit = bit_config_from_name(config.model());
    if (!bit.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--model: ", bit.status().message()));
    }
    bit->head_size = num_classes;
    bit->zero_head = true;
    bit->seed = config.seed();
    bit->base_width = or_official(config.base_width(), BitConfig::kOfficialBaseWidth);
    bit->num_groups = or_official(config.num_groups(), BitConfig::kOfficialNumGroups);
    if (absl::Status widths = check_width_flags(*bit); !widths.ok()) return widths;
    LoadedBitModel random{
        std::make_shared<BitResNetV2>(*bit),
        absl::StrFormat("random %s, zero %d-way head", bit_arch_description(*bit), num_classes)};
    start_sigmoid_at_one_in_k(config, random);
    return random;
  }
  InferenceModelOptions options;
  if (config.model() != kDefaultModel) options.model_name = config.model();
  options.base_width = config.base_width();  // 0: not given
  options.num_groups = config.num_groups();
  absl::StatusOr<LoadedBitModel> loaded = load_bit_model_for_inference(config.weights(), options);
  if (!loaded.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--weights: ", loaded.status().message()));
  }
  const int64_t file_head = loaded->model->config().head_size;
  // An .npz names no classes; bit_finetune and bit_export --save_weights write them beside it.
  if (loaded->class_names.empty()) {
    absl::StatusOr<std::vector<std::string>> names =
        class_names_beside(config.weights(), file_head);
    if (!names.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--weights: ", names.status().message()));
    }
    if (!names->empty()) {
      loaded->class_names = *std::move(names);
      absl::StrAppend(&loaded->message, "; its classes from ",
                      labels_path_beside(config.weights()));
    }
  }
  if (config.eval_only() && file_head != num_classes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--eval_only: %s has a %d-way head and the dataset %d classes; evaluation needs the "
        "head the model was trained with",
        config.weights(), file_head, num_classes));
  }
  // A checkpoint's head of as many classes but other ones (a renamed folder reorders them)
  // would score each class with another's row.
  const std::string other_classes = class_names_difference(loaded->class_names, class_names);
  if (config.eval_only() && !other_classes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--eval_only: ", config.weights(), " was trained on other classes than --dataset's (",
        other_classes, "); evaluation needs the classes the model was trained with, in order"));
  }
  if (config.zero_head() || file_head != num_classes || !other_classes.empty()) {
    loaded->model->reset_head(num_classes, /*zero=*/true);
    loaded->class_names.clear();
    absl::StrAppend(&loaded->message, absl::StrFormat("; head: %d-way from the file replaced "
                                                      "by a zero %d-way one",
                                                      file_head, num_classes));
    if (!config.zero_head() && file_head == num_classes) {
      absl::StrAppend(&loaded->message, " (the file's classes are other ones: ", other_classes,
                      ")");
    }
    start_sigmoid_at_one_in_k(config, *loaded);
  }
  return loaded;
}

}  // namespace bitgrad
