// WebP decoding with libwebp's simple API: still images, lossy or lossless, alpha dropped (not
// composited), as PIL's convert("RGB") does. libwebp reports errors as status codes; nothing
// longjmps or exits.
#include <webp/decode.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/image_decoders.h"

namespace bitgrad::image_internal {

absl::StatusOr<Image> decode_webp(const std::string& bytes, const std::string& name) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  WebPBitstreamFeatures features;
  const VP8StatusCode status = WebPGetFeatures(data, bytes.size(), &features);
  if (status == VP8_STATUS_NOT_ENOUGH_DATA) {
    return absl::DataLossError(
        absl::StrCat(name, ": truncated WebP file (", bytes.size(), " bytes)"));
  }
  if (status != VP8_STATUS_OK) {
    return absl::DataLossError(absl::StrCat(name, ": corrupt WebP file (libwebp status ",
                                            static_cast<int>(status), ")"));
  }
  if (features.has_animation) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": animated WebP; bitgrad reads still images"));
  }
  if (absl::Status size = check_image_size(features.width, features.height, "WebP", name);
      !size.ok()) {
    return size;
  }
  Image image{features.height, features.width,
              std::vector<uint8_t>(static_cast<size_t>(features.width) * features.height * 3)};
  if (WebPDecodeRGBInto(data, bytes.size(), image.pixels.data(), image.pixels.size(),
                        features.width * 3) == nullptr) {
    return absl::DataLossError(
        absl::StrCat(name, ": truncated or corrupt WebP file (", bytes.size(), " bytes)"));
  }
  return image;
}

}  // namespace bitgrad::image_internal
