// PNG, JPEG and WebP decoding (data/image_io.h): libpng's and libjpeg's error paths are
// redirected and libwebp's are status codes, so any bytes give an image or an error naming the
// input, never an abort, exit or crash.
#include "data/image_io.h"
#include "io/file_limits.h"
#include "tests/fuzz/fuzz_support.h"

using namespace bitgrad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  set_max_file_tensor_bytes(fuzz::kFuzzMaxFileTensorBytes);
  const std::string name = "fuzz_input.img";
  absl::StatusOr<Image> image =
      decode_image(std::string(reinterpret_cast<const char*>(data), size), name);
  if (!image.ok()) {
    fuzz::require_names(image.status(), name);
    return 0;
  }
  fuzz::require(image->height > 0 && image->width > 0, "an empty image decoded");
  fuzz::require(image->pixels.size() == size_t(image->height * image->width * 3),
                "pixel count is not height * width * 3");
  const Image small = resize_bilinear(*image, 3, 5);
  fuzz::require(small.pixels.size() == 3 * 5 * 3, "resize gave the wrong size");
  return 0;
}
