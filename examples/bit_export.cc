// bit_export: a BiT model as ONNX (models/onnx_export.h), for ONNX Runtime and other runtimes.
//
//   bazel run //examples:bit_export -- --weights=BiT-M-R50x1.npz --output=bit_r50x1.onnx
//   bazel run //examples:bit_export -- --weights=random --model=BiT-S-R101x1 --output=r101.onnx
//       --save_weights=r101.npz        (one command line: a seeded random model, also as .npz)
//
// --weights: an official BiT .npz, a bitgrad checkpoint, or "random" (initialised from --model
// and --seed). tools/onnx/check_bit_onnx.py compares ONNX Runtime's logits with bitgrad's.
#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "data/labels.h"
#include "examples/common/invocation.h"
#include "examples/common/narrowed_model_flags.h"
#include "io/atomic_file.h"
#include "models/bit_weights.h"
#include "models/onnx_export.h"
#include "models/predict.h"
#include "train/run.h"
#include "train/run_config.h"

ABSL_FLAG(std::string, weights, "", "an official BiT .npz, a bitgrad checkpoint, or \"random\"");
ABSL_FLAG(std::string, model, "",
          "the architecture, e.g. BiT-M-R50x1; needed with --weights=random, else checked "
          "against the file");
ABSL_FLAG(uint64_t, seed, 0, "initialisation of a --weights=random model");
ABSL_FLAG(std::string, output, "", "the .onnx file to write");
ABSL_FLAG(std::string, save_weights, "", "also write the model as an official-layout .npz");

namespace bitgrad {
namespace {

// The model, and with a checkpoint its class names and input size.
absl::StatusOr<LoadedBitModel> make_model() {
  const std::string weights = absl::GetFlag(FLAGS_weights);
  InferenceModelOptions options;
  options.model_name = absl::GetFlag(FLAGS_model);
  if (absl::Status status = set_narrowed_model_options(options); !status.ok()) return status;
  if (weights != "random") {
    absl::StatusOr<LoadedBitModel> loaded = load_bit_model_for_inference(weights, options);
    if (!loaded.ok() || !loaded->class_names.empty()) return loaded;
    // An .npz's class names are in the labels file --save_weights wrote beside it.
    absl::StatusOr<std::vector<std::string>> names =
        class_names_beside(weights, loaded->model->config().head_size);
    if (!names.ok()) return names.status();
    loaded->class_names = *std::move(names);
    return loaded;
  }
  if (absl::GetFlag(FLAGS_model).empty()) {
    return absl::InvalidArgumentError("--weights=random needs --model, e.g. BiT-S-R50x1");
  }
  absl::StatusOr<BitConfig> config = bit_config_from_name(absl::GetFlag(FLAGS_model));
  if (!config.ok()) return config.status();
  config->seed = absl::GetFlag(FLAGS_seed);
  if (options.base_width > 0) config->base_width = options.base_width;
  if (options.num_groups > 0) config->num_groups = options.num_groups;
  if (absl::Status widths = check_width_flags(*config); !widths.ok()) return widths;
  return LoadedBitModel{std::make_shared<BitResNetV2>(*config), "random"};
}

absl::Status run() {
  if (absl::GetFlag(FLAGS_weights).empty() || absl::GetFlag(FLAGS_output).empty()) {
    return absl::InvalidArgumentError("--weights and --output are required (--help: the flags)");
  }
  // An .onnx named .npz would be read as an .npz, and fail there; a file has its own weights.
  if (absl::EndsWith(absl::GetFlag(FLAGS_output), ".npz")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--output=", absl::GetFlag(FLAGS_output), ": is the ONNX model (NAME.onnx); the .npz "
        "is --save_weights"));
  }
  if (absl::GetFlag(FLAGS_seed) != 0 && absl::GetFlag(FLAGS_weights) != "random") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--seed=", absl::GetFlag(FLAGS_seed), ": initialises --weights=random only; ",
        absl::GetFlag(FLAGS_weights), " holds its own weights, so leave --seed out"));
  }
  // Both outputs' folders before either file is written.
  if (absl::Status s = check_output_flag("--output", absl::GetFlag(FLAGS_output)); !s.ok()) {
    return s;
  }
  if (absl::Status s = check_output_flag("--save_weights", absl::GetFlag(FLAGS_save_weights));
      !s.ok()) {
    return s;
  }
  const std::string weights = absl::GetFlag(FLAGS_weights);
  std::vector<FlagPath> outputs = save_weights_outputs(absl::GetFlag(FLAGS_save_weights));
  outputs.insert(outputs.begin(),
                 {{"--output", absl::GetFlag(FLAGS_output)},
                  {"--output's weights", onnx_external_data_path(absl::GetFlag(FLAGS_output))}});
  if (absl::Status s = check_outputs_overwrite_nothing(
          {{"--weights", weights == "random" ? "" : weights}}, outputs);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<LoadedBitModel> loaded = make_model();
  if (!loaded.ok()) return loaded.status();
  const std::shared_ptr<BitResNetV2>& model = loaded->model;
  model->eval();
  const std::string output = absl::GetFlag(FLAGS_output);
  absl::StatusOr<std::string> weights_file = export_bit_onnx(
      *model, output,
      {loaded->class_names, loaded->input_resolution, run_loss(loaded->run_config)});
  if (!weights_file.ok()) return weights_file.status();
  std::cerr << "bit_export: wrote BiT-" << bit_arch_name(model->config()) << " ("
            << model->config().head_size << " classes"
            << (loaded->class_names.empty() ? "" : ", named") << ") to " << output
            << (*weights_file == output
                    ? ""
                    : ", its weights beside it in " + *weights_file + " (keep the two together)")
            << "\n";
  const std::string npz = absl::GetFlag(FLAGS_save_weights);
  if (!npz.empty()) {
    absl::StatusOr<SavedWeights> saved =
        save_weights_and_class_names(*model, npz, loaded->class_names,
                                     run_loss(loaded->run_config), loaded->input_resolution);
    if (!saved.ok()) return saved.status();
    std::cerr << "bit_export: wrote its weights to " << npz
              << (saved->labels.empty() ? "" : ", its class names to " + saved->labels)
              << (saved->model_info.empty() ? "" : ", its model info to " + saved->model_info)
              << "; predict with " << bit_predict_command(npz, saved->labels) << "\n";
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace bitgrad

int main(int argc, char** argv) {
  return bitgrad::run_program(
      argc, argv,
      "bit_export --weights=BiT-M-R50x1.npz|checkpoint|random [--model=...] --output=model.onnx "
      "[--save_weights=model.npz] [--base_width=N --num_groups=N for a narrowed model]",
      bitgrad::run);
}
