#include "models/predict.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "io/atomic_file.h"
#include "io/textproto.h"
#include "autograd/grad_mode.h"
#include "models/checkpoint.h"
#include "models/train_state.h"
#include "ops/elementwise.h"

namespace bitgrad {

namespace {

// The error for --base_width or --num_groups given other than `where` records, or OK.
absl::Status widths_given_differ(const InferenceModelOptions& options, int64_t base_width,
                                 int64_t num_groups, const std::string& where) {
  std::string given;
  if (options.base_width > 0 && options.base_width != base_width) {
    absl::StrAppend(&given, "--base_width=", options.base_width, " ");
  }
  if (options.num_groups > 0 && options.num_groups != num_groups) {
    absl::StrAppend(&given, "--num_groups=", options.num_groups, " ");
  }
  if (given.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      given, "given, but ", where, " a model of base width ", base_width, " with ", num_groups,
      " groups; leave them out: it records its own"));
}

// The model info beside `npz_path`, or nullopt when there is none.
absl::StatusOr<std::optional<proto::NpzModelInfo>> read_npz_model_info(
    const std::string& npz_path) {
  const std::string path = npz_model_info_path(npz_path);
  std::error_code error;
  const std::filesystem::file_status entry = std::filesystem::symlink_status(path, error);
  if (!std::filesystem::exists(entry)) return std::nullopt;
  if (!std::filesystem::is_regular_file(path, error)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " (beside ", npz_path,
                                                   ") is not a regular file (a folder, or a "
                                                   "broken link): move it away"));
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  proto::NpzModelInfo info;
  if (absl::Status parsed = parse_textproto(text.str(), path, &info); !parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        parsed.message(), " (beside ", npz_path, ": its model info, an NpzModelInfo textproto, "
        "models/checkpoint.proto)"));
  }
  if (info.base_width() < 0 || info.num_groups() < 0 || info.input_resolution() < 0 ||
      info.input_resolution() > BitConfig::kMaxResolution ||
      (!info.loss().empty() && info.loss() != "softmax" && info.loss() != "sigmoid")) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": expected base_width and num_groups >= 0, input_resolution in [0, ",
        BitConfig::kMaxResolution, "] and loss softmax or sigmoid, got ", info.ShortDebugString()));
  }
  const auto npz_bytes = std::filesystem::file_size(npz_path, error);
  if (info.npz_bytes() > 0 && !error && static_cast<int64_t>(npz_bytes) != info.npz_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " was written for another ", npz_path, " (of ", info.npz_bytes(), " bytes; this one "
        "has ", npz_bytes, "): move it away, or give the .npz that came with it"));
  }
  return info;
}

}  // namespace

std::string npz_model_info_path(const std::string& npz_path) {
  const std::string stem = absl::EndsWith(npz_path, ".npz")
                               ? npz_path.substr(0, npz_path.size() - 4)
                               : npz_path;
  return stem + ".model.textproto";
}

absl::StatusOr<std::string> save_npz_model_info(const std::string& npz_path,
                                                const BitConfig& config, const std::string& loss,
                                                int64_t input_resolution) {
  proto::NpzModelInfo info;
  if (config.is_narrowed()) {
    info.set_base_width(config.base_width);
    info.set_num_groups(config.num_groups);
  }
  if (loss == "sigmoid") info.set_loss(loss);
  info.set_input_resolution(input_resolution);
  const std::string path = npz_model_info_path(npz_path);
  std::error_code error;
  if (info.ByteSizeLong() == 0) {
    // An official model's .npz needs none; one left from an earlier model would misread it.
    std::filesystem::remove(path, error);
    if (error) {
      return absl::InternalError(absl::StrCat("cannot remove the model info ", path,
                                              " of an earlier model: ", error.message()));
    }
    return std::string();
  }
  const auto npz_bytes = std::filesystem::file_size(npz_path, error);
  if (!error) info.set_npz_bytes(static_cast<int64_t>(npz_bytes));
  std::string text;
  google::protobuf::TextFormat::PrintToString(info, &text);
  absl::Status written = write_file_atomically(
      path, [&](FileSink& sink) { return sink.write(text.data(), text.size()); });
  if (!written.ok()) return written;
  return path;
}

absl::StatusOr<LoadedBitModel> load_bit_model_for_inference(const std::string& path,
                                                            const InferenceModelOptions& options) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": a folder; expected an official BiT .npz or a bitgrad checkpoint (a bit_finetune "
        "run's is in its --out folder: ",
        (std::filesystem::path(path) / "checkpoint.ckpt").string(), ")"));
  }
  if (is_checkpoint_file(path)) {
    absl::StatusOr<LoadedBitModel> loaded =
        load_bit_model_from_checkpoint(path, options.model_name);
    if (!loaded.ok()) return loaded.status();
    const BitConfig& recorded = loaded->model->config();
    if (absl::Status s = widths_given_differ(options, recorded.base_width, recorded.num_groups,
                                             absl::StrCat(path, " holds"));
        !s.ok()) {
      return s;
    }
    return loaded;
  }
  absl::StatusOr<std::optional<proto::NpzModelInfo>> info = read_npz_model_info(path);
  if (!info.ok()) return info.status();
  BitModelOptions npz_options;
  npz_options.model_name = options.model_name;
  npz_options.base_width =
      options.base_width > 0 ? options.base_width : BitConfig::kOfficialBaseWidth;
  npz_options.num_groups =
      options.num_groups > 0 ? options.num_groups : BitConfig::kOfficialNumGroups;
  if (*info) {
    // A model info without widths (an official width's sigmoid model, say) leaves them to the
    // flags; one with them decides.
    if ((*info)->base_width() > 0 || (*info)->num_groups() > 0) {
      const int64_t base_width = (*info)->base_width() > 0 ? (*info)->base_width()
                                                           : BitConfig::kOfficialBaseWidth;
      const int64_t num_groups = (*info)->num_groups() > 0 ? (*info)->num_groups()
                                                           : BitConfig::kOfficialNumGroups;
      if (absl::Status s = widths_given_differ(
              options, base_width, num_groups,
              absl::StrCat(npz_model_info_path(path), " beside ", path, " records"));
          !s.ok()) {
        return s;
      }
      npz_options.base_width = base_width;
      npz_options.num_groups = num_groups;
    }
  }
  absl::StatusOr<LoadedBitModel> loaded = load_bit_model(path, npz_options);
  if (!loaded.ok() || !*info) return loaded;
  loaded->input_resolution = (*info)->input_resolution();
  // The info names only the sigmoid loss: without it, the model bitgrad wrote is a softmax one.
  loaded->run_config = absl::StrCat(
      "loss: \"", (*info)->loss().empty() ? "softmax" : (*info)->loss(), "\"\n");
  absl::StrAppend(&loaded->message, "; model info from ", npz_model_info_path(path));
  return loaded;
}

Tensor mirror_images(const Tensor& images) {
  BG_CHECK(images.dim() == 4 && images.dtype() == DType::kFloat32 && images.device().is_cpu(),
           "mirror_images: expected (N, C, H, W) float32 CPU images, got ", images.shape());
  Tensor mirror = empty_like(images);
  const int64_t width = images.shape()[3];
  const float* in = images.data<float>();
  float* out = mirror.mutable_data<float>();
  for (int64_t row = 0; width > 0 && row < images.numel() / width; ++row) {
    std::reverse_copy(in + row * width, in + (row + 1) * width, out + row * width);
  }
  return mirror;
}

Tensor batch_logits(BitResNetV2& model, const Tensor& images, bool flip) {
  const auto logits_of = [&](const Tensor& x) {
    return model(x.to(model.dtype()).to(model.device()));
  };
  Tensor logits = logits_of(images);
  if (flip) logits = (logits + logits_of(mirror_images(images))) * 0.5;
  return logits;
}

absl::StatusOr<Tensor> predict_logits(BitResNetV2& model, int64_t count,
                                      const BatchLoader& load_batch,
                                      const PredictOptions& options) {
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("batch size must be positive, got ",
                                                   options.batch_size));
  }
  const int64_t classes = model.config().head_size;
  Tensor logits = empty({count, classes});
  model.eval();
  NoGradGuard no_grad;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t begin = 0; begin < count; begin += options.batch_size) {
    const int64_t end = std::min(count, begin + options.batch_size);
    absl::StatusOr<Tensor> batch = load_batch(begin, end);
    if (!batch.ok()) return batch.status();
    Tensor out;
    try {
      out = batch_logits(model, *batch, options.flip)
                .to(DType::kFloat32)
                .to(Device::cpu())
                .to_plain();
    } catch (const Error& error) {
      return absl::InvalidArgumentError(absl::StrCat("inputs ", begin, "..", end - 1, ": ",
                                                     error.what()));
    }
    std::copy(out.data<float>(), out.data<float>() + out.numel(),
              logits.mutable_data<float>() + begin * classes);
    if (options.progress) {
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
      options.progress(end, count, elapsed.count());
    }
  }
  return logits;
}

bool ranks_before(const float* logits, int64_t a, int64_t b) {
  const bool a_nan = std::isnan(logits[a]), b_nan = std::isnan(logits[b]);
  if (a_nan != b_nan) return b_nan;
  if (!a_nan && logits[a] != logits[b]) return logits[a] > logits[b];
  return a < b;
}

std::vector<std::vector<ClassScore>> top_k(const Tensor& logits, int64_t k, Probabilities kind) {
  BG_CHECK(logits.dim() == 2, "top_k: expected (N, K) logits, got ", logits.shape());
  BG_CHECK(k >= 1, "top_k: k must be >= 1, got ", k);
  const int64_t rows = logits.size(0), classes = logits.size(1);
  const std::vector<float> values = logits.to_vector<float>();
  k = std::min(k, classes);
  std::vector<std::vector<ClassScore>> result(rows);
  std::vector<int64_t> order(classes);
  for (int64_t n = 0; n < rows; ++n) {
    const float* row = values.data() + n * classes;
    const float max = *std::max_element(row, row + classes);
    double denominator = 0;
    for (int64_t c = 0; c < classes; ++c) denominator += std::exp(double(row[c]) - max);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int64_t a, int64_t b) { return ranks_before(row, a, b); });
    for (int64_t i = 0; i < k; ++i) {
      const int64_t c = order[i];
      const double probability = kind == Probabilities::kSigmoid
                                     ? 1 / (1 + std::exp(-double(row[c])))
                                     : std::exp(double(row[c]) - max) / denominator;
      result[n].push_back({c, row[c], probability});
    }
  }
  return result;
}

}  // namespace bitgrad
