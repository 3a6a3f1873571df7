// BiT's preprocessing (bit.md §3.1-3.2): the HyperRule resolution and the train and eval paths.
//
//   train: resize ("squash", no aspect preservation) to precrop x precrop, a uniform random
//          crop x crop window, a horizontal flip with probability 1/2;
//          (beyond BiT: a window may also start up to `shift` pixels outside the image, whose
//          outside reads black, for translations at the eval path's scale; train/finetune.h)
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
};

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
  int64_t top = 0, left = 0;  // of the crop window inside the precrop image
  bool flip = false;          // mirror left-right
};

// Draws top and left uniformly in [-shift, precrop - crop + shift], then flip with
// probability 1/2.
Augmentation draw_augmentation(const Resolution& resolution, Generator& generator);

// The train path: float32 (3, crop, crop) in [-1, 1]; window pixels outside the image are
// black (-1).
Tensor preprocess_for_train(const Image& image, const Resolution& resolution,
                            const Augmentation& augmentation);

// The eval path: float32 (3, resolution, resolution) in [-1, 1].
Tensor preprocess_for_eval(const Image& image, int64_t resolution);

}  // namespace bitgrad
