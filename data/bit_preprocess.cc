#include "data/bit_preprocess.h"

#include <cmath>

namespace bitgrad {
namespace {

constexpr int64_t kSmallArea = 96 * 96;

Image resized(const Image& image, int64_t size) {
  if (image.height == size && image.width == size) return image;
  return resize_bilinear(image, size, size);
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

Augmentation draw_augmentation(const Resolution& resolution, Generator& generator) {
  BG_CHECK(0 < resolution.crop && resolution.crop <= resolution.precrop, "draw_augmentation: ",
           "the crop ", resolution.crop, " must be in [1, precrop ", resolution.precrop, "]");
  BG_CHECK(resolution.shift >= 0, "draw_augmentation: negative shift ", resolution.shift);
  Augmentation out;
  const int64_t shift = resolution.shift;
  const int64_t positions = resolution.precrop - resolution.crop + 2 * shift + 1;
  out.top = generator.randint(positions) - shift;
  out.left = generator.randint(positions) - shift;
  out.flip = generator.uniform() < 0.5;
  return out;
}

Tensor preprocess_for_train(const Image& image, const Resolution& resolution,
                            const Augmentation& augmentation) {
  const int64_t shift = resolution.shift, crop = resolution.crop, size = resolution.precrop;
  BG_CHECK(augmentation.top >= -shift && augmentation.left >= -shift &&
               augmentation.top + crop <= size + shift && augmentation.left + crop <= size + shift,
           "preprocess_for_train: the crop window at (", augmentation.top, ", ",
           augmentation.left, ") of size ", crop, " leaves the ", size, "x", size,
           " image by more than the shift ", shift);
  const Image big = resized(image, size);
  Image window{crop, crop, std::vector<uint8_t>(static_cast<size_t>(crop * crop * 3), 0)};
  for (int64_t y = 0; y < crop; ++y) {
    const int64_t source_y = augmentation.top + y;
    if (source_y < 0 || source_y >= size) continue;  // black
    for (int64_t x = 0; x < crop; ++x) {
      const int64_t source_x = augmentation.left + (augmentation.flip ? crop - 1 - x : x);
      if (source_x < 0 || source_x >= size) continue;
      for (int64_t c = 0; c < 3; ++c) {
        window.pixels[(y * crop + x) * 3 + c] = big.at(source_y, source_x, c);
      }
    }
  }
  return image_to_tensor(window);
}

Tensor preprocess_for_eval(const Image& image, int64_t resolution) {
  BG_CHECK(resolution > 0, "preprocess_for_eval: resolution must be positive, got ", resolution);
  return image_to_tensor(resized(image, resolution));
}

}  // namespace bitgrad
