#include "data/image_set.h"

#include <cstring>
#include <filesystem>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "core/fnv1a.h"

namespace bitgrad {

std::string ImageSet::name(int64_t i) const {
  if (!files.empty()) return files.at(i);
  return absl::StrCat(source, "[", i, "]");
}

absl::StatusOr<Image> ImageSet::image(int64_t i, DecodeSize at_least) const {
  BG_CHECK(0 <= i && i < size(), "ImageSet::image: index ", i, " outside [0, ", size(), ")");
  if (!files.empty()) return read_image(files[i], at_least);
  const int64_t height = pixels.size(1), width = pixels.size(2), channels = pixels.size(3);
  const int64_t count = height * width;
  const uint8_t* src = pixels.data<uint8_t>() + i * count * channels;
  Image out{height, width, std::vector<uint8_t>(static_cast<size_t>(count * 3))};
  if (channels == 3) {
    std::memcpy(out.pixels.data(), src, count * 3);
  } else {
    for (int64_t p = 0; p < count; ++p) {
      out.pixels[p * 3] = out.pixels[p * 3 + 1] = out.pixels[p * 3 + 2] = src[p];
    }
  }
  return out;
}

absl::StatusOr<std::pair<int64_t, int64_t>> ImageSet::first_image_size() const {
  if (size() == 0) return absl::InvalidArgumentError(absl::StrCat(source, ": no images"));
  if (files.empty()) return std::make_pair(pixels.size(1), pixels.size(2));
  absl::StatusOr<Image> first = read_image(size_file.empty() ? files[0] : size_file);
  if (!first.ok()) return first.status();
  return std::make_pair(first->height, first->width);
}

ImageSet ImageSet::subset(const std::vector<int64_t>& indices) const {
  ImageSet out;
  out.source = source;
  out.class_names = class_names;
  if (!files.empty()) out.size_file = size_file.empty() ? files[0] : size_file;
  for (int64_t i : indices) {
    BG_CHECK(0 <= i && i < size(), "ImageSet::subset: index ", i, " outside [0, ", size(), ")");
    out.labels.push_back(labels[i]);
    if (!files.empty()) out.files.push_back(files[i]);
  }
  if (files.empty()) {
    const Shape& s = pixels.shape();
    out.pixels = empty({static_cast<int64_t>(indices.size()), s[1], s[2], s[3]}, DType::kUInt8);
    const int64_t per_image = s[1] * s[2] * s[3];
    for (size_t k = 0; k < indices.size(); ++k) {
      std::memcpy(out.pixels.mutable_data<uint8_t>() + k * per_image,
                  pixels.data<uint8_t>() + indices[k] * per_image, per_image);
    }
  }
  return out;
}

uint64_t ImageSet::fingerprint() const {
  uint64_t hash = fnv1a(std::string_view(reinterpret_cast<const char*>(labels.data()),
                                         labels.size() * sizeof(int64_t)));
  for (const std::string& file : files) {
    hash = fnv1a(std::filesystem::path(file).lexically_relative(source).generic_string(), hash);
    hash = fnv1a(std::string_view("\0", 1), hash);
  }
  if (files.empty() && pixels.defined()) {
    hash = fnv1a_words(
        std::string_view(static_cast<const char*>(pixels.raw_data()), pixels.nbytes()), hash);
  }
  return hash;
}

absl::Status check_image_set(const ImageSet& set) {
  if (set.files.empty()) {
    if (!set.pixels.defined() || set.pixels.dtype() != DType::kUInt8 || set.pixels.dim() != 4 ||
        (set.pixels.size(3) != 1 && set.pixels.size(3) != 3)) {
      return absl::InvalidArgumentError(absl::StrCat(
          set.source, ": expected uint8 images of shape (N, H, W, C) with C = 1 or 3, got ",
          set.pixels.defined() ? set.pixels.shape().str() : "none"));
    }
    if (set.pixels.size(0) != set.size()) {
      return absl::InvalidArgumentError(absl::StrCat(set.source, ": ", set.pixels.size(0),
                                                     " images but ", set.size(), " labels"));
    }
  } else if (static_cast<int64_t>(set.files.size()) != set.size()) {
    return absl::InvalidArgumentError(absl::StrCat(set.source, ": ", set.files.size(),
                                                   " files but ", set.size(), " labels"));
  }
  if (set.size() == 0) return absl::InvalidArgumentError(absl::StrCat(set.source, ": no images"));
  for (int64_t i = 0; i < set.size(); ++i) {
    if (set.labels[i] < 0 || set.labels[i] >= set.num_classes()) {
      return absl::InvalidArgumentError(absl::StrCat(set.name(i), ": label ", set.labels[i],
                                                     " outside [0, ", set.num_classes(), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace bitgrad
