// BiT's preprocessing (bit.md §3.1-3.2): the HyperRule resolution and the train and eval paths.
//
//   train: resize ("squash", no aspect preservation) to precrop x precrop, a uniform random
//          crop x crop window, a horizontal flip with probability 1/2;
//          (beyond BiT: a window may also start up to `shift` pixels outside the image, whose
//          outside reads black, for translations at the eval path's scale; train/finetune.h)
//   inception (BiT's upstream path, bit.md §3.4): a random box of the image, of 8% to 100% of
//          its area and aspect ratio 3/4 to 4/3, resized to crop x crop, then the flip;
//   eval:  resize directly to crop x crop, with no centre crop;
//   both:  RGB (gray replicated), float32 CHW, value / 127.5 - 1, i.e. in [-1, 1].
//
// The resize is data/image_io.h's bilinear one without antialiasing (tf.image.resize's rule);
// torchvision's PIL resize antialiases when downsampling, so large photos give slightly
// different pixels. An image that already has the target size is not resized. The loader and
// bit_predict decode a JPEG far larger than the target at a reduced DCT scale first, never
// below the target (image_io.h DecodeSize): a block-average low-pass before the bilinear step.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "core/random.h"
#include "core/tensor.h"
#include "data/image_io.h"
#include "data/image_set.h"

namespace bitgrad {

struct Resolution {
  int64_t precrop = 0;  // the train path resizes to this, then crops
  int64_t crop = 0;     // the model's input size, train and eval
  int64_t shift = 0;    // how far the train path's window may reach past each image edge
  // > 0: the train path takes an inception crop of at least this fraction of the image's area
  // instead of a window of the precrop image (which it then never makes).
  double min_box_area = 0;
};

// The Inception paper's bounds (Szegedy et al. 2015, also torchvision's RandomResizedCrop).
inline constexpr double kInceptionMinBoxArea = 0.08;

// The HyperRule: images under 96x96 pixels in area (H * W < 9216) get (160, 128), others
// (512, 480). The reference code reads a nominal size per dataset; we use the images' own size.
Resolution hyperrule_resolution(int64_t height, int64_t width);

// --resolution: crop = `crop`, and precrop keeps the ratio of the HyperRule pair for this image
// size (x 160/128 for small images, x 512/480 for large ones), rounded to nearest.
Resolution resolution_with_crop(int64_t height, int64_t width, int64_t crop);

// The resolution for a training set: the HyperRule's for its first image's size, or
// resolution_with_crop(..., crop) when `crop` (a --resolution flag) is positive.
absl::StatusOr<Resolution> resolution_for(const ImageSet& train, int64_t crop);

// The random part of one train example.
struct Augmentation {
  int64_t top = 0, left = 0;  // of the crop window inside the precrop image, or of the box
  bool flip = false;          // mirror left-right
  int64_t box_height = 0, box_width = 0;  // inception crop: the box inside the image
};

// The random part of one train example of an image_height x image_width image.
//   window (min_box_area = 0): top and left uniform in [-shift, precrop - crop + shift];
//   inception crop: up to 10 draws of an area fraction uniform in [min_box_area, 1] and an
//     aspect ratio (width / height) log-uniform in [3/4, 4/3]; the first box that fits the
//     image is placed uniformly in it; if none fits, the largest centred box whose ratio is in
//     bounds;
// then flip with probability 1/2.
Augmentation draw_augmentation(const Resolution& resolution, int64_t image_height,
                               int64_t image_width, Generator& generator);

// The train path: float32 (3, crop, crop) in [-1, 1]; window pixels outside the image are
// black (-1). With resolution.min_box_area > 0, the augmentation's box resized to the crop.
Tensor preprocess_for_train(const Image& image, const Resolution& resolution,
                            const Augmentation& augmentation);

// The eval path: float32 (3, resolution, resolution) in [-1, 1].
Tensor preprocess_for_eval(const Image& image, int64_t resolution);

}  // namespace bitgrad
