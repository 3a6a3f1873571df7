#include "train/run_config.h"

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "absl/algorithm/container.h"
#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/storage.h"
#include "data/idx_dataset.h"
#include "google/protobuf/text_format.h"
#include "io/textproto.h"
#include "ops/math_mode.h"

namespace bitgrad {
namespace {

// Far more loader threads than any machine's cores; more would only exhaust the process ids.
constexpr int64_t kMaxWorkers = 1024;
constexpr int64_t kMaxBucketMb = int64_t{1} << 20;  // a terabyte

using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;

absl::Status invalid(const std::string& flag, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", what));
}

// Sets `field` from a flag's value as text ("0.003", "true", "cifar10:/data").
absl::Status set_field(const FieldDescriptor* field, const std::string& value, RunConfig* config) {
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    config->GetReflection()->SetString(config, field, value);
    return absl::OkStatus();
  }
  if (!TextFormat::ParseFieldValueFromString(value, field, config)) {
    return invalid(field->name(), absl::StrCat("cannot read \"", value, "\""));
  }
  return absl::OkStatus();
}

// The Abseil flag of a RunConfig field: every field has one of the same name.
absl::StatusOr<absl::CommandLineFlag*> flag_of(const FieldDescriptor* field) {
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(field->name());
  if (flag == nullptr) {
    return absl::InternalError(absl::StrCat("RunConfig field ", field->name(), " has no flag"));
  }
  return flag;
}

// Parses `text` into `config`, recording where each field was set into `locations` (if given).
// The error names `source`, the line and column of the parser's first complaint.
absl::Status parse_run_config_text(const std::string& text, const std::string& source,
                                   RunConfig* config, TextFormat::ParseInfoTree* locations) {
  absl::Status parsed = parse_textproto(text, source, config, locations);
  if (parsed.ok()) return parsed;
  return absl::InvalidArgumentError(
      absl::StrCat(parsed.message(), " (a RunConfig textproto, train/run_config.proto)"));
}

}  // namespace

absl::StatusOr<RunConfig> parse_run_config(const std::string& text, const std::string& source) {
  RunConfig config;
  if (absl::Status parsed = parse_run_config_text(text, source, &config, nullptr); !parsed.ok()) {
    return parsed;
  }
  return config;
}

std::string loss_name(const RunConfig& config) {
  return config.loss().empty() ? kSoftmaxLoss : config.loss();
}

LossFunction loss_function(const RunConfig& config) {
  return loss_name(config) == kSigmoidLoss ? sigmoid_cross_entropy : cross_entropy;
}

std::string run_loss(const std::string& run_config_text) {
  if (run_config_text.empty()) return "";
  absl::StatusOr<RunConfig> run = parse_run_config(run_config_text, "the checkpoint's run");
  if (!run.ok()) return "";
  return loss_name(*run);
}

std::string run_config_text(const RunConfig& config) {
  std::string text;
  TextFormat::PrintToString(config, &text);
  return text;
}

std::string differing_settings(const RunConfig& there, const RunConfig& here,
                               const std::string& there_label, const std::string& here_label) {
  std::string differences;
  const google::protobuf::Descriptor* descriptor = RunConfig::descriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    std::string there_value, here_value;
    TextFormat::PrintFieldValueToString(there, field, -1, &there_value);
    TextFormat::PrintFieldValueToString(here, field, -1, &here_value);
    if (there_value == here_value) continue;
    absl::StrAppend(&differences, differences.empty() ? "" : "; ", "--", field->name(), "=",
                    there_value, " ", there_label, ", ", here_value, " ", here_label);
  }
  return differences;
}

RunConfig computed_settings(RunConfig config) {
  config.clear_resume();
  config.clear_workers();
  config.clear_bucket_mb();
  config.clear_device();
  config.clear_out();
  config.clear_save_weights();
  return config;
}

absl::StatusOr<RunConfig> run_config_from_flags(
    const std::string& config_file,
    const std::function<bool(const std::string& flag)>& given_on_command_line) {
  RunConfig from_file;
  TextFormat::ParseInfoTree in_file;  // which fields the file sets
  if (!config_file.empty()) {
    // A folder read as an empty config, and /dev/zero until memory ran out. Pipes are fine
    // (--config=<(...)), read up to the same limit.
    constexpr std::streamsize kMaxConfigBytes = 1 << 20;
    std::error_code error;
    if (std::filesystem::is_directory(config_file, error)) {
      return invalid("config", absl::StrCat(config_file, " is a folder; expected a RunConfig "
                                            "textproto (train/run_config.proto)"));
    }
    std::ifstream in(config_file, std::ios::binary);
    if (!in) return invalid("config", absl::StrCat("cannot read ", config_file));
    std::string text(kMaxConfigBytes + 1, '\0');
    in.read(text.data(), kMaxConfigBytes + 1);
    if (in.bad()) return invalid("config", absl::StrCat("cannot read ", config_file));
    if (in.gcount() > kMaxConfigBytes) {
      return invalid("config", absl::StrCat(config_file, " holds over 1 MiB; a RunConfig "
                                            "textproto is a few lines (train/run_config.proto)"));
    }
    text.resize(in.gcount());
    absl::Status parsed = parse_run_config_text(text, config_file, &from_file, &in_file);
    if (!parsed.ok()) return invalid("config", std::string(parsed.message()));
  }
  RunConfig config = from_file;
  const google::protobuf::Descriptor* descriptor = RunConfig::descriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    absl::StatusOr<absl::CommandLineFlag*> flag = flag_of(field);
    if (!flag.ok()) return flag.status();
    // Without `given_on_command_line`, a flag overrides the file when it differs from its
    // default: --batch=512 (the default) would not override the file's batch.
    const bool set_by_flag =
        (given_on_command_line && given_on_command_line(field->name())) ||
        (*flag)->CurrentValue() != (*flag)->DefaultValue();
    if (in_file.GetLocation(field, -1).line >= 0 && !set_by_flag) continue;
    if (absl::Status status = set_field(field, (*flag)->CurrentValue(), &config); !status.ok()) {
      return status;
    }
  }
  return config;
}

absl::StatusOr<std::vector<std::string>> fields_off_their_defaults(const RunConfig& config) {
  std::vector<std::string> names;
  const google::protobuf::Descriptor* descriptor = RunConfig::descriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    absl::StatusOr<absl::CommandLineFlag*> flag = flag_of(field);
    if (!flag.ok()) return flag.status();
    RunConfig defaults;
    if (absl::Status s = set_field(field, (*flag)->DefaultValue(), &defaults); !s.ok()) return s;
    std::string value, default_value;
    TextFormat::PrintFieldValueToString(config, field, -1, &value);
    TextFormat::PrintFieldValueToString(defaults, field, -1, &default_value);
    if (value != default_value) names.push_back(field->name());
  }
  return names;
}

absl::Status check_eval_only_flags(const RunConfig& config) {
  if (!config.eval_only()) return absl::OkStatus();
  static constexpr std::array<const char*, 10> kTrainingOnly = {
      "examples_per_class", "batch_split", "steps",   "base_lr", "schedule",
      "mixup_alpha",        "weight_decay", "augment", "shuffle", "eval_every"};
  absl::StatusOr<std::vector<std::string>> changed = fields_off_their_defaults(config);
  if (!changed.ok()) return changed.status();
  for (const std::string& field : *changed) {
    if (absl::c_linear_search(kTrainingOnly, absl::string_view(field))) {
      return invalid(field, "--eval_only trains nothing, so it would ignore this training "
                            "setting; leave it out");
    }
  }
  return absl::OkStatus();
}

std::string resolution_problem(int64_t resolution, absl::string_view zero_means) {
  if (resolution == 0 || (resolution >= BitConfig::kMinResolution &&
                          resolution <= BitConfig::kMaxResolution)) {
    return "";
  }
  return absl::StrCat("expected a size in pixels from ", BitConfig::kMinResolution,
                      " (BiT ResNet-v2 halves its input 5 times) to ", BitConfig::kMaxResolution,
                      ", or 0 for ", zero_means);
}

absl::Status check_run_config(const RunConfig& c) {
  if (c.batch() <= 0) return invalid("batch", "must be positive");
  if (c.batch() > kMaxBatch) {
    return invalid("batch", absl::StrCat("at most ", kMaxBatch, " images, got ", c.batch()));
  }
  if (c.batch_split() <= 0 || c.batch() % c.batch_split() != 0) {
    return invalid("batch_split", absl::StrCat("must be positive and divide --batch=", c.batch(),
                                               ", got ", c.batch_split()));
  }
  if (c.steps() < 0) return invalid("steps", "must be >= 0 (0: the HyperRule's)");
  // Written so that nan fails too.
  if (!(c.base_lr() >= 0 && std::isfinite(c.base_lr()))) {
    return invalid("base_lr", "must be a finite number >= 0");
  }
  if (!(c.weight_decay() >= 0 && std::isfinite(c.weight_decay()))) {
    return invalid("weight_decay", "must be a finite number >= 0");
  }
  if (!std::isfinite(c.mixup_alpha())) {
    return invalid("mixup_alpha", "must be a finite number (negative: the HyperRule's)");
  }
  if (c.schedule() != "hyperrule" && c.schedule() != "upstream" && c.schedule() != "constant") {
    return invalid("schedule", absl::StrCat("expected hyperrule, upstream or constant, got \"",
                                            c.schedule(), "\""));
  }
  if (c.schedule() == "upstream" && c.steps() == 0 && !c.eval_only()) {
    return invalid("schedule", "upstream needs --steps, the run's length (BiT: 90 epochs, i.e. "
                               "90 x training images / --batch)");
  }
  if (c.augment() != "bit" && c.augment() != "shift" && c.augment() != "flip" &&
      c.augment() != "inception" && c.augment() != "none") {
    return invalid("augment", absl::StrCat("expected bit, shift, flip, inception or none, got \"",
                                           c.augment(), "\""));
  }
  if (!c.loss().empty() && c.loss() != kSoftmaxLoss && c.loss() != kSigmoidLoss) {
    return invalid("loss", absl::StrCat("expected ", kSoftmaxLoss, " or ", kSigmoidLoss, ", got \"",
                                        c.loss(), "\""));
  }
  if (c.examples_per_class() < 0) return invalid("examples_per_class", "must be >= 0");
  if (const std::string problem = resolution_problem(c.resolution(), "the HyperRule's");
      !problem.empty()) {
    return invalid("resolution", absl::StrCat(problem, ", got ", c.resolution()));
  }
  if (c.base_width() < 0) return invalid("base_width", "must be >= 0 (0: the official 64)");
  if (c.num_groups() < 0) return invalid("num_groups", "must be >= 0 (0: the official 32)");
  if (c.workers() <= 0) return invalid("workers", "must be positive");
  if (c.workers() > kMaxWorkers) {
    return invalid("workers", absl::StrCat("at most ", kMaxWorkers, " loader threads, got ",
                                           c.workers()));
  }
  if (!(c.bucket_mb() == 0 || (c.bucket_mb() >= 1e-3 && c.bucket_mb() <= kMaxBucketMb))) {
    return invalid("bucket_mb", absl::StrCat("must be 0 (25) or from 0.001 to ", kMaxBucketMb,
                                             " MiB, got ", c.bucket_mb()));
  }
  if (c.eval_batch() < 0) return invalid("eval_batch", "must be >= 0 (0: --batch)");
  if (c.eval_batch() > kMaxBatch) {
    return invalid("eval_batch", absl::StrCat("at most ", kMaxBatch, " images, got ",
                                              c.eval_batch()));
  }
  if (c.eval_every() < 0) return invalid("eval_every", "must be >= 0 (0: only at the end)");
  if (c.resume() && c.out().empty()) return invalid("resume", "needs --out, the run directory");
  if (c.eval_only() && c.weights() == "random") {
    return invalid("eval_only", "needs trained --weights (a .npz or a checkpoint), not random");
  }
  if (c.eval_only() && c.zero_head()) {
    return invalid("zero_head", "would zero the head that --eval_only evaluates");
  }
  if (c.eval_only() && (!c.out().empty() || c.resume() || !c.save_weights().empty())) {
    return invalid(!c.out().empty() ? "out" : c.resume() ? "resume" : "save_weights",
                   "--eval_only trains nothing and writes nothing");
  }
  if (!c.device().empty()) {  // empty is the CPU
    if (absl::Status status = check_device_name(c.device()); !status.ok()) return status;
  }
  const DeviceType device = Device::from_flag(c.device()).type;
  if (std::string problem = dtype_flag_problem(c.dtype(), device); !problem.empty()) {
    return invalid("dtype", problem);
  }
  absl::StatusOr<DatasetSpec> spec = parse_dataset_spec(c.dataset());
  if (!spec.ok()) return spec.status();
  return check_test_fraction(spec->format, c.test_fraction());
}

absl::StatusOr<DatasetSpec> parse_dataset_spec(const std::string& spec) {
  const size_t colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  absl::StatusOr<DatasetFormat> format = parse_dataset_format(name);
  if (!format.ok()) {
    // A path given alone: the format names what to read it as.
    std::error_code ignored;
    const std::string meant = std::filesystem::is_directory(spec, ignored) ? "folder:"
                              : std::filesystem::exists(spec, ignored)    ? "npz:"
                                                                          : "";
    return invalid("dataset", absl::StrCat(format.status().message(),
                                           meant.empty() ? "" : "; did you mean --dataset=",
                                           meant.empty() ? "" : meant + spec + "?"));
  }
  if (colon != std::string::npos && colon + 1 < spec.size()) {
    return DatasetSpec{*format, spec.substr(colon + 1)};
  }
  if (*format == DatasetFormat::kFashionMnist) return DatasetSpec{*format, kFashionMnistDir};
  return invalid("dataset", absl::StrCat("expected ", name, ":PATH, got \"", spec, "\""));
}

absl::StatusOr<Dataset> load_dataset_spec(const DatasetSpec& spec, double test_fraction) {
  absl::StatusOr<Dataset> data = load_dataset(spec.format, spec.path, test_fraction);
  if (!data.ok()) return invalid("dataset", std::string(data.status().message()));
  return data;
}

}  // namespace bitgrad
