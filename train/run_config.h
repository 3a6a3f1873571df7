// RunConfig (train/run_config.proto): reading it from flags and a textproto file, checking it,
// and the --dataset spec.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/datasets.h"
#include "models/bit_resnet_v2.h"
#include "ops/loss.h"
#include "train/run_config.pb.h"

namespace bitgrad {

// The run's configuration, by precedence: flags given on the command line (`given_on_command_line`,
// where the program can tell; else those whose value differs from their default), then the
// fields the textproto `config_file` sets (none when empty), then the flags' defaults. Every
// RunConfig field needs an Abseil flag of the same name; a missing one is an internal error.
absl::StatusOr<RunConfig> run_config_from_flags(
    const std::string& config_file,
    const std::function<bool(const std::string& flag)>& given_on_command_line = nullptr);

// The names of the fields whose value differs from their flag's default, in .proto order: what
// the command line and the config file changed.
absl::StatusOr<std::vector<std::string>> fields_off_their_defaults(const RunConfig& config);

// Errors name the flag and say what was expected.
absl::Status check_run_config(const RunConfig& config);

// With --eval_only, refuses the training settings (--steps, --base_lr, ...) that the command
// line or the config file changed, rather than ignore them. Reads the flags' defaults, so only
// for configs made by run_config_from_flags.
absl::Status check_eval_only_flags(const RunConfig& config);

// --model's default. With --weights=random it is the architecture; with a file, any other value
// must name the file's architecture (like the flags, the default cannot tell "given" from "left
// out", so it checks nothing).
inline constexpr char kDefaultModel[] = "R50x1";

// The largest batch the programs take: far above any real run, far below where a batch's
// element count overflows int64 (2^20 images of BitConfig::kMaxResolution^2 pixels are 2^54
// floats).
inline constexpr int64_t kMaxBatch = int64_t{1} << 20;

// What --resolution takes, "" when `resolution` is one of them: 0, which means `zero_means`
// (the HyperRule's, the model's own), or BitConfig::kMinResolution to kMaxResolution pixels.
// One rule and one wording for every program with the flag.
std::string resolution_problem(int64_t resolution, absl::string_view zero_means);

// --loss's two values.
inline constexpr char kSoftmaxLoss[] = "softmax";
inline constexpr char kSigmoidLoss[] = "sigmoid";

// config.loss, an empty one read as "softmax" (a RunConfig built in code, or the checkpoint of a
// run from before --loss).
std::string loss_name(const RunConfig& config);

// config.loss as a function: cross_entropy, or sigmoid_cross_entropy for "sigmoid".
LossFunction loss_function(const RunConfig& config);

// The loss_name of a checkpoint's run, from its RunConfig text (LoadedBitModel::run_config);
// empty for no text (an .npz) or text that does not parse.
std::string run_loss(const std::string& run_config_text);

std::string run_config_text(const RunConfig& config);  // textproto

// `config` without the settings that say how and where a run works, not what it computes:
// resume, workers, bucket_mb, device, out and save_weights (a run directory may be moved
// between a kill and its resume). What --resume compares, and what names a cached model.
RunConfig computed_settings(RunConfig config);

// "--base_lr=0.1 there, 0.2 here; ..." for the fields in which two configs differ; "" for none.
std::string differing_settings(const RunConfig& there, const RunConfig& here,
                               const std::string& there_label = "there",
                               const std::string& here_label = "here");
absl::StatusOr<RunConfig> parse_run_config(const std::string& text, const std::string& source);

// --dataset: "FORMAT:PATH", or "fashion_mnist" alone for Debian's copy.
struct DatasetSpec {
  DatasetFormat format;
  std::string path;
};
absl::StatusOr<DatasetSpec> parse_dataset_spec(const std::string& spec);
// Errors name --dataset. `test_fraction`: RunConfig's, for a folder of class folders.
absl::StatusOr<Dataset> load_dataset_spec(const DatasetSpec& spec, double test_fraction = 0);

}  // namespace bitgrad
