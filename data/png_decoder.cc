// PNG decoding with libpng's low-level API. libpng reports fatal errors by calling our error
// handler, which records the message and longjmps back to read_png_pixels; nothing is thrown
// through C frames and nothing exits.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/image_decoders.h"

namespace bitgrad::image_internal {
namespace {

// Shared with libpng's callbacks through its io and error pointers.
struct PngReadState {
  const std::string* bytes = nullptr;
  const std::string* name = nullptr;  // for messages
  size_t offset = 0;
  bool ran_out = false;    // a read past the end of the data: the file is truncated
  absl::Status size_error;  // the image was refused before allocating
  char error[256] = {};
};

void read_from_memory(png_structp png, png_bytep out, png_size_t count) {
  auto* state = static_cast<PngReadState*>(png_get_io_ptr(png));
  if (count > state->bytes->size() - state->offset) {
    state->ran_out = true;
    png_error(png, "unexpected end of data");
  }
  std::memcpy(out, state->bytes->data() + state->offset, count);
  state->offset += count;
}

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngReadState*>(png_get_error_ptr(png));
  std::snprintf(state->error, sizeof state->error, "%s", message);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}  // recoverable (e.g. a bad ancillary chunk)

// Decodes into *image. Returns false after a libpng error (details in the state). Only trivially
// destructible locals live in this frame, so the longjmp back here skips no destructor; image and
// rows belong to the caller.
bool read_png_pixels(png_structp png, png_infop info, PngReadState* state, Image* image,
                     std::vector<png_bytep>* rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, state, read_from_memory);
  png_read_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info);
  const png_uint_32 height = png_get_image_height(png, info);
  state->size_error = check_image_size(width, height, "PNG", *state->name);
  if (!state->size_error.ok()) return false;
  png_set_expand(png);          // palette -> RGB, gray of 1/2/4 bits -> 8 bits, tRNS -> alpha
  png_set_scale_16(png);        // 16 -> 8 bits: round(v * 255 / 65535)
  png_set_strip_alpha(png);     // dropped, not composited
  png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8 ||
      png_get_rowbytes(png, info) != size_t{width} * 3) {
    png_error(png, "conversion to 8-bit RGB failed");
  }
  image->height = height;
  image->width = width;
  image->pixels.resize(size_t{height} * width * 3);
  rows->resize(height);
  for (png_uint_32 y = 0; y < height; ++y) {
    (*rows)[y] = image->pixels.data() + size_t{y} * width * 3;
  }
  png_read_image(png, rows->data());
  png_read_end(png, nullptr);  // checks the chunks after the image data, up to IEND
  return true;
}

}  // namespace

absl::StatusOr<Image> decode_png(const std::string& bytes, const std::string& name) {
  PngReadState state;
  state.bytes = &bytes;
  state.name = &name;
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, on_png_error, on_png_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return absl::ResourceExhaustedError(absl::StrCat(name, ": cannot create a libpng reader"));
  }
  Image image;
  std::vector<png_bytep> rows;
  const bool ok = read_png_pixels(png, info, &state, &image, &rows);
  png_destroy_read_struct(&png, &info, nullptr);
  if (ok) return image;
  if (!state.size_error.ok()) return state.size_error;
  if (state.ran_out) {
    return absl::DataLossError(absl::StrCat(name, ": truncated PNG file (", bytes.size(),
                                            " bytes; data ended before the image did)"));
  }
  return absl::DataLossError(absl::StrCat(name, ": corrupt PNG file (libpng: ", state.error, ")"));
}

}  // namespace bitgrad::image_internal
