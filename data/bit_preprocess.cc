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
  Augmentation out;
  const int64_t slack = resolution.precrop - resolution.crop + 1;
  out.top = generator.randint(slack);
  out.left = generator.randint(slack);
  out.flip = generator.uniform() < 0.5;
  return out;
}

Tensor preprocess_for_train(const Image& image, const Resolution& resolution,
                            const Augmentation& augmentation) {
  BG_CHECK(augmentation.top >= 0 && augmentation.left >= 0 &&
               augmentation.top + resolution.crop <= resolution.precrop &&
               augmentation.left + resolution.crop <= resolution.precrop,
           "preprocess_for_train: the crop window at (", augmentation.top, ", ",
           augmentation.left, ") of size ", resolution.crop, " leaves the ", resolution.precrop,
           "x", resolution.precrop, " image");
  const Image big = resized(image, resolution.precrop);
  const int64_t crop = resolution.crop;
  Image window{crop, crop, std::vector<uint8_t>(static_cast<size_t>(crop * crop * 3))};
  for (int64_t y = 0; y < crop; ++y) {
    for (int64_t x = 0; x < crop; ++x) {
      const int64_t source_x = augmentation.left + (augmentation.flip ? crop - 1 - x : x);
      for (int64_t c = 0; c < 3; ++c) {
        window.pixels[(y * crop + x) * 3 + c] = big.at(augmentation.top + y, source_x, c);
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
