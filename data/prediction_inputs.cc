#include "data/prediction_inputs.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "data/image_folder.h"
#include "data/image_io.h"
#include "io/npy.h"

namespace bitgrad {
namespace {

// Values this far outside [-1, 1] suggest the batch was not preprocessed.
constexpr double kRangeSlack = 1e-3;

// OK, with a note when the values lie outside [-1, 1], or an error for a batch that is not N
// RGB float32 images of finite values.
absl::StatusOr<std::vector<std::string>> check_npy_batch(const Tensor& batch,
                                                         const std::string& path) {
  if (batch.dim() != 4 || batch.size(1) != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": shape ", batch.shape().str(), ", expected (N, 3, H, W): RGB images in NCHW"));
  }
  if (batch.dtype() != DType::kFloat32) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": dtype ", dtype_name(batch.dtype()),
        ", expected float32 (save it with x.astype(np.float32))"));
  }
  if (batch.numel() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": the batch ", batch.shape().str(),
                                                   " is empty"));
  }
  // A NaN would not show in the range, and a ReLU maps it to 0 (ops/elementwise.h): the image
  // would get probabilities computed from nothing.
  const float* values = batch.data<float>();
  float low = values[0], high = values[0];
  for (int64_t i = 0; i < batch.numel(); ++i) {
    if (!std::isfinite(values[i])) {
      const int64_t per_image = batch.numel() / batch.size(0);
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": value ", i, " (image ", i / per_image, ") is ", values[i],
          "; expected finite preprocessed pixels"));
    }
    low = std::min(low, values[i]);
    high = std::max(high, values[i]);
  }
  if (low >= -1 - kRangeSlack && high <= 1 + kRangeSlack) return std::vector<std::string>{};
  return std::vector<std::string>{absl::StrCat(
      path, ": values span [", low, ", ", high, "], not [-1, 1]; BiT expects preprocessed pixels ",
      "(value / 127.5 - 1)")};
}

}  // namespace

std::vector<std::string> input_paths(const std::string& spec) {
  const std::string whole(absl::StripAsciiWhitespace(spec));
  if (!whole.empty() && access(whole.c_str(), F_OK) == 0) return {whole};  // "photo, 2020.jpg"
  std::vector<std::string> paths;
  std::string part;
  const auto finish_part = [&] {
    if (std::string path(absl::StripAsciiWhitespace(part)); !path.empty()) paths.push_back(path);
    part.clear();
  };
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == '\\' && i + 1 < spec.size() && spec[i + 1] == ',') {
      part += spec[++i];  // "\," is a comma inside a name
    } else if (spec[i] == ',') {
      finish_part();
    } else {
      part += spec[i];
    }
  }
  finish_part();
  return paths;
}

absl::StatusOr<PredictionInputs> PredictionInputs::open(const std::string& spec,
                                                        int64_t resolution) {
  PredictionInputs inputs;
  std::vector<std::string> paths;
  for (const std::string& path : input_paths(spec)) {
    if (access(path.c_str(), F_OK) != 0) {
      return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    }
    std::error_code error;
    if (!std::filesystem::is_directory(path, error)) {
      if (!std::filesystem::is_regular_file(path, error)) {  // a pipe would block, /dev/zero fill
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": not a file or folder (a device, pipe or socket)"));
      }
      paths.push_back(path);
      continue;
    }
    // A file a folder holds under another name, or under an image's name but that is none (a
    // HEIF photo saved as .jpg), is passed over with a warning; one named on the command line
    // stays an error.
    std::vector<std::string> images;
    std::vector<SkippedFile> others;
    if (absl::Status status = list_image_files(path, images, others); !status.ok()) return status;
    // The notes bit_finetune gives a class folder's: a few of each kind.
    for (std::string& line : skipped_files_lines(path, others)) {
      inputs.warnings_.push_back(std::move(line));
    }
    if (images.empty()) return no_images_error(path, "a folder", others);
    paths.insert(paths.end(), images.begin(), images.end());
  }
  if (paths.empty()) {
    return absl::InvalidArgumentError("no input given: expected image files or one .npy batch");
  }
  const bool npy = std::any_of(paths.begin(), paths.end(), [](const std::string& path) {
    return absl::EndsWithIgnoreCase(path, ".npy");
  });
  if (npy) {
    if (paths.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a .npy batch must be the only input, got ", paths.size(), " inputs"));
    }
    absl::StatusOr<Tensor> batch = read_npy(paths[0]);
    if (!batch.ok()) return batch.status();
    absl::StatusOr<std::vector<std::string>> notes = check_npy_batch(*batch, paths[0]);
    if (!notes.ok()) return notes.status();
    inputs.warnings_.insert(inputs.warnings_.end(), notes->begin(), notes->end());
    inputs.npy_path_ = paths[0];
    inputs.npy_batch_ = *std::move(batch);
    inputs.count_ = inputs.npy_batch_.size(0);
    inputs.description_ = absl::StrCat(paths[0], ": ", inputs.npy_batch_.shape().str(), " float32");
    return inputs;
  }
  if (resolution < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("resolution must be positive, got ", resolution));
  }
  inputs.image_paths_ = paths;
  inputs.resolution_ = resolution;
  inputs.count_ = static_cast<int64_t>(paths.size());
  inputs.description_ = absl::StrCat(paths.size(), " image file(s), resized to ", resolution, "x",
                                     resolution);
  return inputs;
}

std::string PredictionInputs::name(int64_t index) const {
  if (!image_paths_.empty()) return image_paths_.at(index);
  return absl::StrCat(npy_path_, "[", index, "]");
}

absl::StatusOr<Tensor> PredictionInputs::batch(
    int64_t begin, int64_t end, std::vector<std::pair<int64_t, std::string>>* unreadable) const {
  BG_CHECK(0 <= begin && begin < end && end <= count_, "PredictionInputs::batch: [", begin, ", ",
           end, ") is not a range of the ", count_, " inputs");
  if (image_paths_.empty()) {
    const Shape& s = npy_batch_.shape();
    const int64_t per_item = s[1] * s[2] * s[3];
    Tensor out = empty({end - begin, s[1], s[2], s[3]});
    std::memcpy(out.mutable_data<float>(), npy_batch_.data<float>() + begin * per_item,
                (end - begin) * per_item * sizeof(float));
    return out;
  }
  Tensor out = zeros({end - begin, 3, resolution_, resolution_});
  const int64_t per_item = 3 * resolution_ * resolution_;
  for (int64_t i = begin; i < end; ++i) {
    absl::StatusOr<Image> image = read_image(image_paths_[i], {resolution_, resolution_});
    if (!image.ok() && unreadable != nullptr) {
      unreadable->push_back({i, std::string(image.status().message())});
      continue;
    }
    if (!image.ok()) return image.status();
    const Tensor chw = preprocess_for_eval(*image, resolution_);
    std::memcpy(out.mutable_data<float>() + (i - begin) * per_item, chw.data<float>(),
                per_item * sizeof(float));
  }
  return out;
}

}  // namespace bitgrad
