#include "train/model_init.h"

#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "autograd/grad_mode.h"
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

}  // namespace

absl::StatusOr<LoadedBitModel> initial_model(const RunConfig& config, int64_t num_classes) {
  const int64_t base_width = or_official(config.base_width(), BitConfig::kOfficialBaseWidth);
  const int64_t num_groups = or_official(config.num_groups(), BitConfig::kOfficialNumGroups);
  if (config.weights() == "random") {
    absl::StatusOr<BitConfig> bit = bit_config_from_name(config.model());
    if (!bit.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--model: ", bit.status().message()));
    }
    bit->head_size = num_classes;
    bit->zero_head = true;
    bit->seed = config.seed();
    bit->base_width = base_width;
    bit->num_groups = num_groups;
    check_bit_config(*bit);
    LoadedBitModel random{
        std::make_shared<BitResNetV2>(*bit),
        absl::StrFormat("random %s, zero %d-way head", bit_arch_description(*bit), num_classes)};
    start_sigmoid_at_one_in_k(config, random);
    return random;
  }
  InferenceModelOptions options;
  if (config.model() != kDefaultModel) options.model_name = config.model();
  options.base_width = base_width;
  options.num_groups = num_groups;
  absl::StatusOr<LoadedBitModel> loaded = load_bit_model_for_inference(config.weights(), options);
  if (!loaded.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--weights: ", loaded.status().message()));
  }
  const int64_t file_head = loaded->model->config().head_size;
  if (config.eval_only() && file_head != num_classes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--eval_only: %s has a %d-way head and the dataset %d classes; evaluation needs the "
        "head the model was trained with",
        config.weights(), file_head, num_classes));
  }
  if (config.zero_head() || file_head != num_classes) {
    loaded->model->reset_head(num_classes, /*zero=*/true);
    loaded->class_names.clear();
    absl::StrAppend(&loaded->message, absl::StrFormat("; head: %d-way from the file replaced "
                                                      "by a zero %d-way one",
                                                      file_head, num_classes));
    start_sigmoid_at_one_in_k(config, *loaded);
  }
  return loaded;
}

}  // namespace bitgrad
