#include "data/bit_preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace bitgrad {
namespace {

constexpr int64_t kSmallArea = 96 * 96;

Image resized(const Image& image, int64_t size) {
  if (image.height == size && image.width == size) return image;
  return resize_bilinear(image, size, size);
}

constexpr double kMinAspectRatio = 3.0 / 4, kMaxAspectRatio = 4.0 / 3;
constexpr int kInceptionTries = 10;

// A window of the precrop image, without the flip.
Augmentation draw_window(const Resolution& resolution, Generator& generator) {
  Augmentation out;
  const int64_t shift = resolution.shift;
  const int64_t positions = resolution.precrop - resolution.crop + 2 * shift + 1;
  out.top = generator.randint(positions) - shift;
  out.left = generator.randint(positions) - shift;
  return out;
}

// An inception crop's box (data/bit_preprocess.h), without the flip.
Augmentation draw_box(double min_area, int64_t height, int64_t width, Generator& generator) {
  Augmentation out;
  for (int attempt = 0; attempt < kInceptionTries; ++attempt) {
    const double area = height * width * (min_area + (1 - min_area) * generator.uniform());
    const double log_min = std::log(kMinAspectRatio), log_max = std::log(kMaxAspectRatio);
    const double ratio = std::exp(log_min + (log_max - log_min) * generator.uniform());
    const int64_t w = std::llround(std::sqrt(area * ratio));
    const int64_t h = std::llround(std::sqrt(area / ratio));
    if (0 < w && w <= width && 0 < h && h <= height) {
      out.box_height = h;
      out.box_width = w;
      out.top = generator.randint(height - h + 1);
      out.left = generator.randint(width - w + 1);
      return out;
    }
  }
  const double ratio = static_cast<double>(width) / height;
  out.box_height = height;
  out.box_width = width;
  if (ratio < kMinAspectRatio) out.box_height = std::llround(width / kMinAspectRatio);
  if (ratio > kMaxAspectRatio) out.box_width = std::llround(height * kMaxAspectRatio);
  out.top = (height - out.box_height) / 2;
  out.left = (width - out.box_width) / 2;
  return out;
}

// Pixels [top, top + height) x [left, left + width) of `image`.
Image cut(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width) {
  Image out{height, width, std::vector<uint8_t>(static_cast<size_t>(height * width * 3))};
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* row = &image.pixels[((top + y) * image.width + left) * 3];
    std::copy(row, row + width * 3, &out.pixels[y * width * 3]);
  }
  return out;
}

// The crop x crop window at (top, left) of `big`, mirrored if asked; black outside `big`.
Image window_of(const Image& big, int64_t top, int64_t left, int64_t crop, bool flip) {
  Image window{crop, crop, std::vector<uint8_t>(static_cast<size_t>(crop * crop * 3), 0)};
  // The columns u of the unflipped window that read inside `big` (source column left + u); a
  // flip puts column u at crop - 1 - u.
  const int64_t first = std::max<int64_t>(0, -left), end = std::min(crop, big.width - left);
  for (int64_t y = 0; y < crop; ++y) {
    const int64_t source_y = top + y;
    if (source_y < 0 || source_y >= big.height || first >= end) continue;  // black
    const uint8_t* source = big.pixels.data() + source_y * big.width * 3;
    uint8_t* row = window.pixels.data() + y * crop * 3;
    if (!flip) {
      std::memcpy(row + first * 3, source + (left + first) * 3, (end - first) * 3);
      continue;
    }
    for (int64_t u = first; u < end; ++u) {
      std::memcpy(row + (crop - 1 - u) * 3, source + (left + u) * 3, 3);
    }
  }
  return window;
}

}  // namespace

Resolution hyperrule_resolution(int64_t height, int64_t width) {
  if (height * width < kSmallArea) return {160, 128};
  return {512, 480};
}

Resolution resolution_with_crop(int64_t height, int64_t width, int64_t crop) {
  BG_CHECK(crop > 0, "resolution_with_crop: the resolution must be positive, got ", crop);
  const Resolution rule = hyperrule_resolution(height, width);
  const double precrop = static_cast<double>(crop) * rule.precrop / rule.crop;
  return {static_cast<int64_t>(std::llround(precrop)), crop};
}

absl::StatusOr<Resolution> resolution_for(const ImageSet& train, int64_t crop) {
  absl::StatusOr<std::pair<int64_t, int64_t>> size = train.first_image_size();
  if (!size.ok()) return size.status();
  if (crop > 0) return resolution_with_crop(size->first, size->second, crop);
  return hyperrule_resolution(size->first, size->second);
}

Augmentation draw_augmentation(const Resolution& resolution, int64_t image_height,
                               int64_t image_width, Generator& generator) {
  BG_CHECK(0 < resolution.crop && resolution.crop <= resolution.precrop, "draw_augmentation: ",
           "the crop ", resolution.crop, " must be in [1, precrop ", resolution.precrop, "]");
  BG_CHECK(resolution.shift >= 0, "draw_augmentation: negative shift ", resolution.shift);
  BG_CHECK(resolution.min_box_area >= 0 && resolution.min_box_area <= 1,
           "draw_augmentation: the minimum box area ", resolution.min_box_area,
           " must be a fraction in [0, 1]");
  BG_CHECK(image_height > 0 && image_width > 0, "draw_augmentation: empty image ", image_height,
           "x", image_width);
  Augmentation out =
      resolution.min_box_area > 0
          ? draw_box(resolution.min_box_area, image_height, image_width, generator)
          : draw_window(resolution, generator);
  out.flip = generator.uniform() < 0.5;
  return out;
}

Tensor preprocess_for_train(const Image& image, const Resolution& resolution,
                            const Augmentation& augmentation) {
  const int64_t shift = resolution.shift, crop = resolution.crop, size = resolution.precrop;
  const Augmentation& a = augmentation;
  if (resolution.min_box_area > 0) {
    BG_CHECK(a.box_height > 0 && a.box_width > 0 && a.top >= 0 && a.left >= 0 &&
                 a.top + a.box_height <= image.height && a.left + a.box_width <= image.width,
             "preprocess_for_train: the box ", a.box_height, "x", a.box_width, " at (", a.top,
             ", ", a.left, ") leaves the ", image.height, "x", image.width, " image");
    const Image box = resized(cut(image, a.top, a.left, a.box_height, a.box_width), crop);
    return image_to_tensor(window_of(box, 0, 0, crop, a.flip));
  }
  BG_CHECK(a.top >= -shift && a.left >= -shift && a.top + crop <= size + shift &&
               a.left + crop <= size + shift,
           "preprocess_for_train: the crop window at (", a.top, ", ", a.left, ") of size ", crop,
           " leaves the ", size, "x", size, " image by more than the shift ", shift);
  return image_to_tensor(window_of(resized(image, size), a.top, a.left, crop, a.flip));
}

Tensor preprocess_for_eval(const Image& image, int64_t resolution) {
  BG_CHECK(resolution > 0, "preprocess_for_eval: resolution must be positive, got ", resolution);
  return image_to_tensor(resized(image, resolution));
}

}  // namespace bitgrad
