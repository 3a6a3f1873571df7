// Image files to BiT inputs: PNG (libpng), JPEG (libjpeg) and WebP (libwebp) decoding into
// 8-bit RGB, bilinear resizing, and conversion to a float32 CHW tensor in [-1, 1].
//
// Decoding reports bad data as an absl::Status naming the file and the problem: it never crashes,
// aborts or exits, whatever the bytes (both libraries' fatal-error paths are redirected with
// setjmp/longjmp). Programming errors (a zero resize target, an empty image) throw bitgrad::Error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"

namespace bitgrad {

// An 8-bit RGB image, row-major HWC: channel c of pixel (y, x) is pixels[(y * width + x) * 3 + c].
struct Image {
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;

  uint8_t at(int64_t y, int64_t x, int64_t c) const { return pixels[(y * width + x) * 3 + c]; }
};

// How small a decoder may make an image that its caller resizes down anyway. A JPEG is then
// decoded with libjpeg's DCT scaling at the smallest n/8 (n = 1..8) that keeps it at least
// min_height x min_width: 3-5x faster on photos far larger than the model's input, and a better
// low-pass filter than the bilinear resize after it. PNG ignores it. The default (either side
// 0): full size.
struct DecodeSize {
  int64_t min_height = 0;
  int64_t min_width = 0;
};

// Reads a PNG, JPEG or WebP file; the format comes from the file's first bytes, not its name.
// Conversions to 8-bit RGB:
//   PNG: palette and low-bit-depth gray expanded; gray replicated to R=G=B; alpha dropped (not
//        composited, like PIL's convert("RGB")); 16-bit samples scaled to round(v * 255 / 65535);
//        interlaced files de-interlaced. Gamma and colour-profile chunks are ignored.
//   JPEG: YCbCr/RGB decoded to RGB, gray replicated, CMYK/YCCK converted with
//        R = (255 - C) * (255 - K) / 255 (Adobe-inverted files handled), as PIL does. libjpeg's
//        defaults (islow IDCT, fancy upsampling) are kept, which is what PIL uses too.
//   WebP: still images, lossy or lossless, with libwebp's defaults (as PIL); alpha dropped.
//        Animated files are refused.
// Errors: NotFound (no such file), PermissionDenied or Unavailable (cannot read it),
// InvalidArgument (empty, unsupported format, over 2^28 pixels), DataLoss (truncated or corrupt).
absl::StatusOr<Image> read_image(const std::string& path, DecodeSize at_least = {});

// The same for an encoded file already in memory; `name` labels the error messages.
absl::StatusOr<Image> decode_image(const std::string& bytes, const std::string& name,
                                   DecodeSize at_least = {});

// The formats decode_image reads, for messages.
inline constexpr char kDecodableFormats[] = "PNG, JPEG or WebP";

// From a file's first bytes: "" when it starts as PNG, JPEG and WebP files do (read_image may
// still find it truncated or corrupt), else what it holds instead, for messages: "a HEIF
// image", "an empty file", "unreadable (Permission denied)", "not an image (first bytes 00 01
// ...)". Reads 16 bytes, so that folders can be checked before a run, not during it.
std::string not_a_decodable_image(const std::string& path);

// Bilinear resize to (height, width) with half-pixel centres and no antialiasing: the
// align_corners=False convention of torch.nn.functional.interpolate(mode="bilinear",
// antialias=False), torchvision's tensor resize without antialias, and tf.image.resize
// (bilinear, half_pixel_centers). Output pixel i samples source coordinate
// s = (i + 0.5) * in / out - 0.5, clamped to [0, in - 1], from its two neighbours floor(s) and
// floor(s) + 1 (clamped). The result is computed in double and rounded to nearest, ties to even
// (like torch.round), then clamped to [0, 255]. Upsampling matches PIL's BILINEAR up to rounding;
// downsampling does not, because PIL averages over the whole footprint (antialiasing).
Image resize_bilinear(const Image& image, int64_t height, int64_t width);

// BiT's input convention (bit.md section 1.8): float32 (3, height, width), value / 127.5 - 1.
Tensor image_to_tensor(const Image& image);

}  // namespace bitgrad
