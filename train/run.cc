#include "train/run.h"

#include <filesystem>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/stopwatch.h"
#include "core/storage.h"
#include "data/bit_preprocess.h"
#include "data/datasets.h"
#include "data/few_shot.h"
#include "data/image_folder.h"
#include "data/labels.h"
#include "dist/world.h"
#include "io/atomic_file.h"
#include "ops/math_mode.h"
#include "models/bit_weights.h"
#include "models/checkpoint.h"
#include "models/predict.h"
#include "models/train_state.h"
#include "ops/loss.h"
#include "train/evaluate.h"
#include "train/model_init.h"
#include "train/progress.h"
#include "train/run_config.h"
#include "train/run_dir.h"

namespace bitgrad {

absl::Status check_device(const RunConfig& config) {
  return check_device_flag(config.device().empty() ? "cpu" : config.device());  // "" is the CPU
}

Device run_device(const RunConfig& config) {
  // Under a launcher, each process of a machine takes its own GPU.
  return Device::from_flag(config.device(), local_rank());
}

absl::StatusOr<Dataset> few_shot_data(const Dataset& data, const RunConfig& config) {
  if (config.examples_per_class() == 0) return data;
  absl::StatusOr<ImageSet> train =
      few_shot_subset(data.train, config.examples_per_class(), config.seed());
  if (!train.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--examples_per_class: ", train.status().message(),
        config.test_fraction() > 0
            ? absl::StrCat(" (after --test_fraction=", config.test_fraction(),
                           " held out part of each class for testing)")
            : ""));
  }
  return Dataset{*std::move(train), data.test};
}

absl::StatusOr<SavedWeights> save_weights_and_class_names(const BitResNetV2& model,
                                                          const std::string& path,
                                                          const std::vector<std::string>& names,
                                                          const std::string& loss,
                                                          int64_t input_resolution) {
  if (absl::Status status = save_bit_weights(model, path); !status.ok()) return status;
  SavedWeights saved;
  if (!names.empty()) {
    saved.labels = labels_path_beside(path);
    if (absl::Status status = write_label_names(saved.labels, names); !status.ok()) return status;
  } else {  // an earlier model's names would be read as this one's
    std::error_code error;
    std::filesystem::remove(labels_path_beside(path), error);
    if (error) {
      return absl::InternalError(absl::StrCat("cannot remove ", labels_path_beside(path),
                                              ", an earlier model's class names: ",
                                              error.message()));
    }
  }
  absl::StatusOr<std::string> info =
      save_npz_model_info(path, model.config(), loss, input_resolution);
  if (!info.ok()) return info.status();
  saved.model_info = *info;
  return saved;
}

std::vector<FlagPath> save_weights_outputs(const std::string& path) {
  return {{"--save_weights", path},
          {"--save_weights's class names", path.empty() ? "" : labels_path_beside(path)},
          {"--save_weights's model info", path.empty() ? "" : npz_model_info_path(path)}};
}

std::string bit_predict_command(const std::string& npz, const std::string& labels) {
  std::string command = absl::StrCat("bit_predict --weights=", npz);
  if (!labels.empty()) absl::StrAppend(&command, " --labels=", labels);
  return command;
}

std::string summary_line(const FinetuneResult& result) {
  // The time and speed are this process's: after --resume, of the updates it made.
  const int64_t made = result.steps - result.resumed_at;
  const std::string resumed =
      result.resumed_at == 0 ? ""
                             : absl::StrFormat(" (%d after resuming at %d)", made,
                                               result.resumed_at);
  const std::string speed =
      made == 0 ? "none left to make"
                : absl::StrFormat("%s training, %.1f images/s",
                                  format_duration(result.train_seconds), result.images_per_second);
  return absl::StrFormat("test %s on %d images; %d update%s%s, %s", accuracy_text(result.test),
                         result.test.examples, result.steps, result.steps == 1 ? "" : "s",
                         resumed, speed);
}

namespace {

// Whether `run` (a checkpoint's RunConfig) trained on the image folder `spec` names.
bool trained_on_folder(const RunConfig& run, const DatasetSpec& spec) {
  absl::StatusOr<DatasetSpec> trained_on = parse_dataset_spec(run.dataset());
  if (spec.format != DatasetFormat::kImageFolder || !trained_on.ok() ||
      trained_on->format != DatasetFormat::kImageFolder) {
    return false;
  }
  std::error_code ignored;
  return std::filesystem::weakly_canonical(trained_on->path, ignored) ==
         std::filesystem::weakly_canonical(spec.path, ignored);
}

// --eval_only of a checkpoint on a folder of class folders (no train/, so a split is needed),
// --test_fraction left out: the fraction of the checkpoint's run, which held out the same images
// of this folder or of a copy of it (the split goes by path below the folder). Only then is the
// checkpoint read a second time: otherwise the folder could not be loaded at all.
RunConfig with_the_runs_test_fraction(const RunConfig& config, const DatasetSpec& spec,
                                      std::ostream& out) {
  std::error_code ignored;
  if (!config.eval_only() || config.test_fraction() != 0 ||
      spec.format != DatasetFormat::kImageFolder ||
      std::filesystem::exists(spec.path + "/train", ignored) ||
      !is_checkpoint_file(config.weights())) {
    return config;
  }
  absl::StatusOr<Checkpoint> checkpoint = load_checkpoint_header(config.weights());
  if (!checkpoint.ok()) return config;  // loading the model reports it
  absl::StatusOr<RunConfig> run = parse_run_config(checkpoint->config, config.weights());
  if (!run.ok() || run->test_fraction() == 0) return config;
  RunConfig adopted = config;
  adopted.set_test_fraction(run->test_fraction());
  out << "eval: --test_fraction=" << run->test_fraction() << ", as " << config.weights()
      << "'s run split " << spec.path << "\n";
  return adopted;
}

// --eval_only of a run's checkpoint on the folder that run split with --test_fraction must hold
// out the same images: with another fraction, some of those tested would be ones it trained on.
absl::Status check_same_held_out_images(const RunConfig& config, const DatasetSpec& spec,
                                        const std::string& run_config_text) {
  if (spec.format != DatasetFormat::kImageFolder || run_config_text.empty()) return {};
  absl::StatusOr<RunConfig> run = parse_run_config(run_config_text, config.weights());
  if (!run.ok()) return {};  // nothing to compare with
  if (run->test_fraction() == config.test_fraction() || !trained_on_folder(*run, spec)) {
    return {};
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--test_fraction=", config.test_fraction(), ": ", config.weights(), " was trained on ",
      spec.path, " with --test_fraction=", run->test_fraction(),
      "; evaluate it with that, so that it is tested on the images it did not train on"));
}

// --save_weights and the files beside it, checked before the training rather than after it:
// files in a folder that exists and takes new files, or in a --out (or a folder above one) that
// the run will create.
absl::Status check_save_weights_path(const RunConfig& config) {
  if (config.save_weights().empty()) return {};
  const std::filesystem::path folder =
      std::filesystem::absolute(config.save_weights()).parent_path().lexically_normal();
  std::error_code ignored;
  if (!config.out().empty() && !std::filesystem::exists(folder, ignored)) {
    const std::string out =
        std::filesystem::absolute(config.out()).lexically_normal().string();
    if (out == folder.string() || absl::StartsWith(out, folder.string() + "/")) return {};
  }
  for (const FlagPath& output : save_weights_outputs(config.save_weights())) {
    if (absl::Status status = check_output_flag(output.flag, output.path); !status.ok()) {
      return status;
    }
  }
  return {};
}

// Every process must run rank 0's settings: one started with another --steps left the others
// waiting in an all-reduce, another --eval_every corrupted memory, another --seed trained the
// replicas apart without a word. What only rank 0 uses, and the loader threads, may differ;
// --out only without --resume (every process reads the checkpoint it resumes from).
absl::Status check_rank_0s_settings(const RunConfig& config, Communicator& world) {
  RunConfig compared = config;
  if (!compared.resume()) compared.clear_out();
  compared.clear_save_weights();
  compared.clear_workers();
  RunConfig rank_0;
  if (!rank_0.ParseFromString(world.broadcast_text(compared.SerializeAsString(), 0))) {
    return absl::InternalError("the settings rank 0 sent do not parse");
  }
  if (rank_0.resume() != compared.resume()) {
    // Only the side without --resume left --out out: the difference is --resume's alone.
    rank_0.clear_out();
    compared.clear_out();
  }
  if (std::string differences =
          differing_settings(rank_0, compared, "on process 0", "on this one");
      !differences.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "process ", world.rank(), " of ", world.size(), " was started with other settings than "
        "process 0 (", differences, "); give every process the same flags"));
  }
  return absl::OkStatus();
}

// Nothing the run writes may be a file it reads or another of its outputs.
absl::Status check_outputs_apart(const RunConfig& config, const DatasetSpec& spec) {
  std::vector<FlagPath> outputs = save_weights_outputs(config.save_weights());
  for (const FlagPath& output : outputs) {
    if (absl::Status s = check_not_a_run_temporary(output.flag, output.path, config.out());
        !s.ok()) {
      return s;
    }
  }
  if (!config.out().empty()) {
    outputs.push_back({"--out's checkpoint", checkpoint_path(config.out())});
    outputs.push_back({"--out's metrics.jsonl", metrics_path(config.out())});
    outputs.push_back({"--out's lock", lock_path(config.out())});
  }
  // A resumed run does not read --weights (its model is its checkpoint's).
  const bool reads_weights = config.weights() != "random" && !config.resume();
  return check_outputs_overwrite_nothing(
      {{"--weights", reads_weights ? config.weights() : ""}, {"--dataset", spec.path}}, outputs);
}

// --out without --resume must not overwrite a run: forgetting --resume after a kill would
// empty its metrics and replace its checkpoint at the first evaluation.
absl::Status check_out_holds_no_run(const RunConfig& config) {
  if (config.out().empty() || config.resume()) return {};  // (--eval_only refuses --out)
  const std::string checkpoint = checkpoint_path(config.out());
  std::error_code ignored;
  if (!std::filesystem::exists(checkpoint, ignored)) return {};
  return absl::AlreadyExistsError(absl::StrCat(
      "--out=", config.out(), " holds a run already (", checkpoint, "): --resume continues it; "
      "to start again, give another --out or delete that folder"));
}

// --eval_only: the model as loaded, on the test split, at --resolution, else the one the
// checkpoint's run evaluated at, else the HyperRule's for the training images.
absl::StatusOr<FinetuneResult> evaluate_weights(const RunConfig& config, const Dataset& data,
                                                const LoadedBitModel& model, std::ostream& out,
                                                Communicator* world) {
  absl::StatusOr<Resolution> chosen = resolution_for(
      data.train, config.resolution() > 0 ? config.resolution() : model.input_resolution);
  if (!chosen.ok()) return chosen.status();
  const int64_t resolution = chosen->crop;
  EvalOptions options = eval_options(config, resolution);
  if (config.loss().empty() && run_loss(model.run_config) == kSigmoidLoss) {
    options.loss_of = sigmoid_cross_entropy;  // the loss its run trained with and reported
    out << "eval: the loss is the sigmoid one, as the checkpoint's run trained (--loss)\n";
  }
  options.world = world;
  options.progress.out = world == nullptr || world->is_root() ? &out : nullptr;
  const SteadyClock::time_point start = SteadyClock::now();
  absl::StatusOr<EvalResult> test = evaluate(*model.model, data.test, options);
  if (!test.ok()) return test.status();
  out << absl::StrFormat(
      "eval: test %s, loss %.4f on %d images of %s at %dx%d, %s\n", accuracy_text(*test),
      test->loss, test->examples, data.test.source, resolution, resolution,
      format_duration(seconds_since(start)));
  out << per_class_report(*test, data.test.class_names);
  FinetuneResult result;
  result.test = *test;
  return result;
}

}  // namespace

absl::StatusOr<FinetuneResult> run_finetune(const RunConfig& given, std::ostream& out,
                                            Communicator* world) {
  if (absl::Status status = check_run_config(given); !status.ok()) return status;
  if (world != nullptr && world->size() > 1) {
    if (absl::Status status = check_rank_0s_settings(given, *world); !status.ok()) return status;
  }
  if (absl::Status status = check_device(given); !status.ok()) return status;
  if (given.weights().empty()) {
    return absl::InvalidArgumentError("--weights: expected a .npz, a checkpoint or \"random\"");
  }
  absl::StatusOr<DatasetSpec> spec = parse_dataset_spec(given.dataset());
  if (!spec.ok()) return spec.status();
  if (world == nullptr || world->is_root()) {  // the one process that writes them
    if (absl::Status status = check_save_weights_path(given); !status.ok()) return status;
    if (absl::Status status = check_outputs_apart(given, *spec); !status.ok()) return status;
    if (!given.out().empty()) {
      if (absl::Status status = check_run_directory_usable(given.out()); !status.ok()) {
        return status;
      }
    }
    if (absl::Status status = check_out_holds_no_run(given); !status.ok()) return status;
  }
  const RunConfig config = with_the_runs_test_fraction(given, *spec, out);
  absl::StatusOr<Dataset> all = load_dataset_spec(*spec, config.test_fraction());
  if (!all.ok()) return all.status();
  for (const std::string& note : all->notes) out << "note: " << note << "\n";
  out << skipped_files_note(all->train) << skipped_files_note(all->test);
  if (config.test_fraction() > 0) {
    out << "test split: " << all->test.size() << " of the " << all->train.size() + all->test.size()
        << " images in " << spec->path << " held out (--test_fraction=" << config.test_fraction()
        << ", picked by file name: the same in every run)\n";
  }
  absl::StatusOr<Dataset> data = few_shot_data(*all, config);
  if (!data.ok()) return data.status();

  // A resumed run's model is its checkpoint's: --weights, where it started, is not read again
  // (it may have moved since). The checkpoint is read once, for the model and then the rest.
  std::optional<Checkpoint> resumed;
  if (config.resume()) {
    absl::StatusOr<Checkpoint> read = read_checkpoint_to_resume(config.out());
    if (!read.ok()) return read.status();
    resumed = *std::move(read);
  }
  absl::StatusOr<LoadedBitModel> model =
      resumed.has_value()
          ? bit_model_from_checkpoint(*resumed, checkpoint_path(config.out()))
          : initial_model(config, data->train.class_names);
  if (!model.ok()) return model.status();
  model->model->to(run_device(config));
  const ScopedBf16Autocast autocast(config.dtype() == "bf16");  // off again when the run ends
  out << "model: " << model->message
      << (model->model->device().is_cuda() ? " on " + model->model->device().str() : "")
      << (config.dtype() == "bf16" ? "; convolutions in bf16 (autocast)" : "") << "\n";
  if (config.eval_only()) {
    if (absl::Status status = check_same_held_out_images(config, *spec, model->run_config);
        !status.ok()) {
      return status;
    }
    return evaluate_weights(config, *data, *model, out, world);
  }
  if (config.out().empty() && config.save_weights().empty()) {
    out << "note: without --out or --save_weights the trained model is not kept\n";
  }
  absl::StatusOr<FinetuneResult> result =
      finetune(*model->model, *data, config, out, world, std::move(resumed));
  if (!result.ok()) return result.status();
  if (!config.save_weights().empty() && (world == nullptr || world->is_root())) {
    absl::StatusOr<SavedWeights> saved =
        save_weights_and_class_names(*model->model, config.save_weights(),
                                     data->train.class_names, loss_name(config),
                                     result->resolution);
    if (!saved.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--save_weights: ", saved.status().message()));
    }
    out << "weights: " << config.save_weights() << ", class names: " << saved->labels
        << (saved->model_info.empty() ? "" : ", model info: " + saved->model_info)
        << "; predict with " << bit_predict_command(config.save_weights(), saved->labels)
        << "\n";
  }
  out << "done: " << summary_line(*result) << "\n"
      << per_class_report(result->test, data->test.class_names);
  return result;
}

}  // namespace bitgrad
