// The format-specific decoders behind read_image / decode_image (image_io.h). Not a public API.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/image_io.h"

namespace bitgrad::image_internal {

// Larger images are refused before any pixel memory is allocated (2^28 pixels = 768 MiB of RGB).
constexpr int64_t kMaxPixels = int64_t{1} << 28;

// OK when a `width` x `height` image may be decoded: at most kMaxPixels, and its RGB bytes within
// the limit on what a file may make a reader allocate (io/file_limits.h). Otherwise an error
// naming the image (`format`: "PNG", "JPEG", "WebP") and its size. Called before any pixel
// memory exists.
absl::Status check_image_size(int64_t width, int64_t height, const char* format,
                              const std::string& name);

// `bytes` must start with the format's signature; `name` labels the error messages.
absl::StatusOr<Image> decode_png(const std::string& bytes, const std::string& name);
absl::StatusOr<Image> decode_jpeg(const std::string& bytes, const std::string& name,
                                  DecodeSize at_least = {});
absl::StatusOr<Image> decode_webp(const std::string& bytes, const std::string& name);

}  // namespace bitgrad::image_internal
