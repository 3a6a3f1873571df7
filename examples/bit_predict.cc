// bit_predict: logits and top-5 classes of a BiT model for images or a preprocessed batch.
//
//   bazel run //examples:bit_predict -- --weights=BiT-M-R50x1.npz --input=cat.jpg,dog.png
//       --labels=imagenet21k_wordnet_lemmas.txt --output=logits.npy --csv=top5.csv
//                                                                     (one command line)
//
// --weights: an official BiT .npz (https://storage.googleapis.com/bit_models/) or a bitgrad
// checkpoint. --input: comma-separated PNG/JPEG/WebP files and folders of them, resized by BiT's
// eval rule (directly to --resolution x --resolution, no centre crop; the BiT-HyperRule uses 128
// for small images and 480 for large ones; a checkpoint of bit_finetune records its run's), or
// one .npy float32 (N, 3, H, W) batch already in [-1, 1], used as it is. Probabilities are the
// softmax over the classes, or each class's sigmoid for a checkpoint of a --loss=sigmoid run.
// The work is in data/prediction_inputs.h, data/labels.h and models/predict.h; this file is
// flags, printing and error messages.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/labels.h"
#include "data/prediction_inputs.h"
#include "examples/common/invocation.h"
#include "examples/common/narrowed_model_flags.h"
#include "core/storage.h"
#include "io/atomic_file.h"
#include "io/npy.h"
#include "models/predict.h"
#include "ops/math_mode.h"
#include "train/run_config.h"

ABSL_FLAG(std::string, weights, "", "an official BiT .npz or a bitgrad checkpoint");
ABSL_FLAG(std::string, input, "",
          "comma-separated .jpg/.png/.webp files and folders of them (sub-folders included; "
          "\\, is a comma in a name), or one .npy float32 (N, 3, H, W) batch in [-1, 1]");
ABSL_FLAG(std::string, output, "", "write the (N, classes) float32 logits to this .npy file");
ABSL_FLAG(std::string, csv, "",
          "write the top-k of every input to this CSV file, one row per input and rank: "
          "input,rank,class,name,probability,logit");
ABSL_FLAG(std::string, labels, "",
          "class names, one per line (e.g. ilsvrc2012_wordnet_lemmas.txt); prints them in the "
          "top-k list. A bitgrad checkpoint brings its own, and so does an .npz with the "
          ".labels.txt bit_finetune --save_weights writes beside it");
ABSL_FLAG(std::string, model, "",
          "BiT model name (BiT-M-R50x1, R101x3, ...); default: the architecture in the file");
ABSL_FLAG(int64_t, resolution, 0,
          "images are resized to this square size (BiT-HyperRule eval: 128 for small images "
          "such as CIFAR, 480 for larger ones); 0: the one a bitgrad checkpoint's run evaluated "
          "at, else 128; ignored for a .npy batch");
ABSL_FLAG(int64_t, batch, 16, "inputs per forward pass");
ABSL_FLAG(bool, flip, false,
          "test-time augmentation: also run each input mirrored left-right and average the two "
          "logits (twice the work)");
ABSL_FLAG(int64_t, top_k, 5, "classes to print per input (0: none)");
ABSL_FLAG(std::string, device, "cpu", "cpu, or cuda (the first GPU)");
ABSL_FLAG(std::string, dtype, "fp32",
          "fp32, or bf16: bf16 autocast of the convolutions (a GPU, or a CPU with AMX)");

namespace bitgrad {
namespace {

constexpr char kProgram[] = "bit_predict";

// Thrown (as a value) by the steps below: what went wrong and what to try.
struct Failure {
  absl::Status status;
  std::string hint;
};

std::string weights_hint(const absl::Status& status) {
  if (absl::IsNotFound(status)) {
    return "download an official model, e.g. "
           "https://storage.googleapis.com/bit_models/BiT-M-R50x1.npz (BiT-S-/BiT-M- with "
           "R50x1, R50x3, R101x1, R101x3, R152x4), and pass its path as --weights";
  }
  return "--weights takes an official BiT .npz (was the download cut short?) or a checkpoint "
         "saved by bitgrad; the .npz of a narrowed model also needs the --base_width and "
         "--num_groups it was trained with; --model must name the architecture in the file, or "
         "be left out";
}

constexpr char kInputHint[] =
    "--input takes comma-separated .jpg/.png/.webp files and folders of them (sub-folders too), "
    "or one .npy file holding a float32 (N, 3, H, W) batch already scaled to [-1, 1]";

LoadedBitModel load_model() {
  InferenceModelOptions options;
  options.model_name = absl::GetFlag(FLAGS_model);
  if (absl::Status status = set_narrowed_model_options(options); !status.ok()) {
    throw Failure{status, "leave --base_width and --num_groups out for an official model"};
  }
  const std::string weights = absl::GetFlag(FLAGS_weights);
  absl::StatusOr<LoadedBitModel> loaded = load_bit_model_for_inference(weights, options);
  if (!loaded.ok()) throw Failure{loaded.status(), weights_hint(loaded.status())};
  if (loaded->class_names.empty()) {  // an .npz's, in the labels file --save_weights wrote
    absl::StatusOr<std::vector<std::string>> names =
        class_names_beside(weights, loaded->model->config().head_size);
    if (!names.ok()) throw Failure{names.status(), "--labels=FILE names the classes instead"};
    loaded->class_names = *std::move(names);
  }
  return *std::move(loaded);
}

// --resolution, else the one the checkpoint's run evaluated at, else the HyperRule's for small
// images.
int64_t input_resolution(const LoadedBitModel& loaded) {
  constexpr int64_t kDefault = 128;
  const int64_t flag = absl::GetFlag(FLAGS_resolution);
  if (flag != 0) return flag;  // a negative one is refused by PredictionInputs::open
  return loaded.input_resolution > 0 ? loaded.input_resolution : kDefault;
}

// --labels, else the class names the weights file brought (a checkpoint's, or an .npz's labels
// file beside it), else none.
std::vector<std::string> class_labels(const LoadedBitModel& loaded) {
  const std::string path = absl::GetFlag(FLAGS_labels);
  if (path.empty()) return loaded.class_names;
  const int64_t classes = loaded.model->config().head_size;
  absl::StatusOr<std::vector<std::string>> names = read_label_names(path);
  if (!names.ok()) {
    throw Failure{names.status(), "--labels takes a text file with one class name per line"};
  }
  if (static_cast<int64_t>(names->size()) != classes) {
    throw Failure{absl::InvalidArgumentError(absl::StrCat(
                      path, " has ", names->size(), " names, the model has ", classes,
                      " classes")),
                  "BiT-S and the BiT-M-*-ILSVRC2012 models have 1000 classes "
                  "(ilsvrc2012_wordnet_lemmas.txt); BiT-M has 21843 "
                  "(imagenet21k_wordnet_lemmas.txt)"};
  }
  return *std::move(names);
}

// A CSV field as RFC 4180 writes it: quoted, inner quotes doubled, when it holds a comma, a
// quote or a line break (file names may).
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// `read[n]`: whether input n was read (an unreadable one has no rows).
void write_csv(const std::string& path, const PredictionInputs& inputs,
               const std::vector<std::vector<ClassScore>>& best,
               const std::vector<std::string>& labels, const std::vector<bool>& read) {
  std::string text = "input,rank,class,name,probability,logit\n";
  for (int64_t n = 0; n < inputs.size(); ++n) {
    for (size_t rank = 0; read[n] && rank < best[n].size(); ++rank) {
      const ClassScore& score = best[n][rank];
      absl::StrAppend(&text, csv_field(inputs.name(n)), ",", rank + 1, ",", score.index, ",",
                      csv_field(labels.empty() ? "" : labels[score.index]), ",",
                      absl::StrFormat("%.9g,%.9g", score.probability, score.logit), "\n");
    }
  }
  const absl::Status status = write_file_atomically(
      path, [&](FileSink& sink) { return sink.write(text.data(), text.size()); });
  if (!status.ok()) throw Failure{status, "--csv must be a writable path"};
  std::cerr << kProgram << ": wrote the top " << (best.empty() ? 0 : best[0].size())
            << " of " << inputs.size() << " inputs to " << path << "\n";
}

void print_top_k(const PredictionInputs& inputs, const std::vector<std::vector<ClassScore>>& best,
                 const std::vector<std::string>& labels, const std::vector<bool>& read) {
  for (int64_t n = 0; n < inputs.size(); ++n) {
    std::cout << inputs.name(n) << (read[n] ? ":" : ": unreadable (see the warnings)") << "\n";
    for (size_t rank = 0; read[n] && rank < best[n].size(); ++rank) {
      const ClassScore& score = best[n][rank];
      std::cout << absl::StrFormat("  %zu. %6.2f%%  logit %8.4f  class %d%s\n", rank + 1,
                                   100 * score.probability, score.logit, score.index,
                                   labels.empty() ? "" : "  " + labels[score.index]);
    }
  }
}

// Images per second on stderr, once per batch, when there is more than one batch: one line
// rewritten in place on a terminal, a line per batch otherwise (logs).
void show_progress(int64_t done, int64_t total, double seconds) {
  static const bool terminal = isatty(STDERR_FILENO);
  std::fprintf(stderr, "%s%s: %lld/%lld inputs, %.1f images/s%s", terminal ? "\r" : "", kProgram,
               static_cast<long long>(done), static_cast<long long>(total),
               seconds > 0 ? done / seconds : 0.0, terminal && done < total ? "" : "\n");
}

void run() {
  if (absl::GetFlag(FLAGS_weights).empty() || absl::GetFlag(FLAGS_input).empty()) {
    throw Failure{absl::InvalidArgumentError("--weights and --input are required"),
                  absl::StrCat("run ", kProgram, " --help for the flags")};
  }
  if (!absl::GetFlag(FLAGS_csv).empty() && absl::GetFlag(FLAGS_top_k) <= 0) {
    throw Failure{absl::InvalidArgumentError("--csv writes the top-k: it needs --top_k >= 1"),
                  "leave --top_k out (5), or drop --csv and keep every logit with --output"};
  }
  if (absl::GetFlag(FLAGS_top_k) < 0) {
    throw Failure{absl::InvalidArgumentError(absl::StrCat(
                      "--top_k=", absl::GetFlag(FLAGS_top_k), ": expected 0 (none) or more")),
                  "leave --top_k out (5)"};
  }
  if (absl::GetFlag(FLAGS_batch) < 1 || absl::GetFlag(FLAGS_batch) > kMaxBatch) {
    throw Failure{absl::InvalidArgumentError(absl::StrCat(
                      "--batch=", absl::GetFlag(FLAGS_batch), ": expected 1 to ", kMaxBatch)),
                  "leave --batch out (16)"};
  }
  // 7 px would still give a prediction, from a 1x1 map.
  if (const std::string problem =
          resolution_problem(absl::GetFlag(FLAGS_resolution), "the model's own");
      !problem.empty()) {
    throw Failure{absl::InvalidArgumentError(absl::StrCat(
                      "--resolution=", absl::GetFlag(FLAGS_resolution), ": ", problem)),
                  "leave --resolution out"};
  }
  // Before the work, not after it.
  const auto check_output = [](const char* flag, const std::string& path) {
    if (absl::Status status = check_output_flag(flag, path); !status.ok()) {
      throw Failure{status, absl::StrCat(flag, " must be a file in a folder you can write")};
    }
  };
  check_output("--output", absl::GetFlag(FLAGS_output));
  check_output("--csv", absl::GetFlag(FLAGS_csv));
  std::vector<FlagPath> read = {{"--weights", absl::GetFlag(FLAGS_weights)},
                                {"--labels", absl::GetFlag(FLAGS_labels)}};
  for (const std::string& input : input_paths(absl::GetFlag(FLAGS_input))) {
    read.push_back({"--input", input});
  }
  if (absl::Status status = check_outputs_overwrite_nothing(
          read, {{"--output", absl::GetFlag(FLAGS_output)}, {"--csv", absl::GetFlag(FLAGS_csv)}});
      !status.ok()) {
    throw Failure{status, "--output and --csv each take a new file of their own"};
  }
  const std::string device_flag = absl::GetFlag(FLAGS_device);
  if (absl::Status status = check_device_flag(device_flag); !status.ok()) {
    throw Failure{status, "--device takes cpu, or cuda on a machine with a GPU"};
  }
  const std::string dtype = absl::GetFlag(FLAGS_dtype);
  const Device device = Device::from_flag(device_flag);
  if (std::string problem = dtype_flag_problem(dtype, device.type); !problem.empty()) {
    throw Failure{absl::InvalidArgumentError(absl::StrCat("--dtype: ", problem)),
                  "leave --dtype out (fp32), which runs anywhere"};
  }
  set_bf16_autocast_enabled(dtype == "bf16");
  LoadedBitModel loaded = load_model();
  loaded.model->to(device);
  std::cerr << kProgram << ": " << loaded.model->device() << ": " << loaded.message << "\n";
  absl::StatusOr<PredictionInputs> inputs =
      PredictionInputs::open(absl::GetFlag(FLAGS_input), input_resolution(loaded));
  if (!inputs.ok()) throw Failure{inputs.status(), kInputHint};
  for (const std::string& warning : inputs->warnings()) {
    std::cerr << kProgram << ": warning: " << warning << "\n";
  }
  const std::vector<std::string> labels = class_labels(loaded);

  PredictOptions options;
  options.batch_size = absl::GetFlag(FLAGS_batch);
  options.flip = absl::GetFlag(FLAGS_flip);
  if (inputs->size() > options.batch_size) options.progress = show_progress;
  std::cerr << kProgram << ": " << inputs->description() << "\n";
  if (options.flip) {
    std::cerr << kProgram << ": logits are flip-averaged (--flip): each input's mean with its "
              << "left-right mirror image's\n";
  }
  std::vector<std::pair<int64_t, std::string>> unreadable;  // (input, why): no logits of theirs
  absl::StatusOr<Tensor> logits = predict_logits(
      *loaded.model, inputs->size(),
      [&](int64_t begin, int64_t end) { return inputs->batch(begin, end, &unreadable); },
      options);
  if (!logits.ok()) throw Failure{logits.status(), kInputHint};
  for (const auto& [index, why] : unreadable) {
    std::cerr << kProgram << ": warning: " << why << "; its logits are NaN\n";
  }
  if (unreadable.size() == static_cast<size_t>(inputs->size())) {
    throw Failure{absl::InvalidArgumentError(absl::StrCat(
                      "none of the ", inputs->size(), " inputs could be read (",
                      unreadable.front().second, ")")),
                  kInputHint};
  }
  std::vector<bool> was_read(inputs->size(), true);
  for (const auto& [index, why] : unreadable) {
    was_read[index] = false;
    float* row = logits->mutable_data<float>() + index * logits->shape()[1];
    std::fill(row, row + logits->shape()[1], std::numeric_limits<float>::quiet_NaN());
  }

  const std::string output = absl::GetFlag(FLAGS_output);
  if (!output.empty()) {
    if (absl::Status status = write_npy(output, *logits); !status.ok()) {
      throw Failure{status, "--output must be a writable path; the logits are a plain .npy"};
    }
    std::cerr << kProgram << ": wrote " << logits->shape().str() << " float32 logits to "
              << output << "\n";
  }
  if (absl::GetFlag(FLAGS_top_k) > 0) {
    const Probabilities kind = run_loss(loaded.run_config) == kSigmoidLoss
                                   ? Probabilities::kSigmoid
                                   : Probabilities::kSoftmax;
    if (kind == Probabilities::kSigmoid) {
      std::cerr << kProgram << ": probabilities are per-class sigmoids: the run trained with "
                << "--loss=sigmoid\n";
    }
    const auto best = top_k(*logits, absl::GetFlag(FLAGS_top_k), kind);
    if (const std::string csv = absl::GetFlag(FLAGS_csv); !csv.empty()) {
      write_csv(csv, *inputs, best, labels, was_read);
    }
    print_top_k(*inputs, best, labels, was_read);
  }
  if (!unreadable.empty()) {  // after writing what the others gave
    throw Failure{absl::DataLossError(absl::StrCat(
                      unreadable.size(), " of ", inputs->size(), " inputs could not be read (",
                      unreadable.front().second, unreadable.size() > 1 ? "; ..." : "",
                      "); the others' predictions are ",
                      absl::GetFlag(FLAGS_top_k) > 0 ? "above"
                      : !output.empty()              ? "in " + output
                                                     : "not shown (--top_k=0, no --output)")),
                  "fix or remove the files named in the warnings"};
  }
}

}  // namespace
}  // namespace bitgrad

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "bit_predict --weights=MODEL.npz|CHECKPOINT --input=IMAGES|BATCH.npy "
      "[--output=logits.npy] [--csv=top5.csv] [--labels=FILE] [--model=NAME] [--resolution=480] "
      "[--batch=16] [--top_k=5] [--flip] [--device=cpu|cuda] [--dtype=fp32|bf16] "
      "[--base_width=N --num_groups=N for a narrowed model's .npz]");
  bitgrad::run_from_invocation_directory();  // first, so that a relative --flagfile is found too
  absl::ParseCommandLine(argc, argv);
  std::signal(SIGXFSZ, SIG_IGN);  // as run_program (examples/common/invocation.h) does
  try {
    bitgrad::run();
  } catch (const bitgrad::Failure& failure) {
    std::cerr << "bit_predict: error: " << failure.status.message() << "\n"
              << "HINT: " << failure.hint << "\n";
    return 1;
  } catch (const bitgrad::OutOfMemoryError& error) {
    std::cerr << "bit_predict: error: " << error.what() << "\n"
              << "HINT: lower --batch or --resolution\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "bit_predict: error: out of memory\nHINT: lower --batch or --resolution\n";
    return 1;
  } catch (const std::exception& error) {  // bitgrad::Error and the standard library's
    std::cerr << "bit_predict: error: " << error.what() << "\n"
              << "HINT: this is likely a bug in bitgrad; please report it with the command line\n";
    return 2;
  }
  return 0;
}
