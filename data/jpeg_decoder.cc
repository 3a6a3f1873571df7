// JPEG decoding with libjpeg(-turbo). libjpeg's default error handler calls exit(); ours records
// the message and longjmps back to read_jpeg_pixels instead. Warnings about corrupt data are
// tolerated (as PIL does), except running out of data, which is reported as a truncated file
// rather than silently padded with grey.
#include <cstdio>  // jpeglib.h needs FILE and size_t first

#include <jerror.h>
#include <jpeglib.h>

#include <csetjmp>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/image_decoders.h"

namespace bitgrad::image_internal {
namespace {

struct JpegErrorState {
  jpeg_error_mgr manager;  // first member: libjpeg hands back a pointer to it
  jmp_buf jump;
  bool truncated = false;
  absl::Status size_error;  // the image was refused before allocating
  char message[JMSG_LENGTH_MAX] = {};
};

JpegErrorState* state_of(j_common_ptr cinfo) {
  return reinterpret_cast<JpegErrorState*>(cinfo->err);
}

[[noreturn]] void on_jpeg_error(j_common_ptr cinfo) {
  (*cinfo->err->format_message)(cinfo, state_of(cinfo)->message);
  std::longjmp(state_of(cinfo)->jump, 1);
}

void on_jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {  // a warning: out of data
    state_of(cinfo)->truncated = true;
    on_jpeg_error(cinfo);
  }
}

// One decoded scanline (1, 3 or 4 samples per pixel) to RGB.
void scanline_to_rgb(const uint8_t* in, int components, bool adobe_inverted, int64_t width,
                     uint8_t* out) {
  for (int64_t x = 0; x < width; ++x, out += 3) {
    if (components == 1) {
      out[0] = out[1] = out[2] = in[x];
    } else if (components == 3) {
      std::memcpy(out, in + 3 * x, 3);
    } else {
      // CMYK: R = (255 - C)(255 - K) / 255. Adobe files store the complements (255 - C ...), so
      // the product is then direct. a*b/255 is never exactly a half, so +127 rounds to nearest.
      const uint8_t* cmyk = in + 4 * x;
      const unsigned k = adobe_inverted ? cmyk[3] : 255u - cmyk[3];
      for (int c = 0; c < 3; ++c) {
        const unsigned ink = adobe_inverted ? cmyk[c] : 255u - cmyk[c];
        out[c] = static_cast<uint8_t>((ink * k + 127) / 255);
      }
    }
  }
}

// The smallest n in 1..8 for which libjpeg's n/8 scaling (each side rounded up) keeps a
// `width` x `height` image at least at_least's size; 8 (full size) when none does or when
// at_least has a side <= 0.
int jpeg_scale_eighths(int64_t width, int64_t height, DecodeSize at_least) {
  if (at_least.min_height <= 0 || at_least.min_width <= 0) return 8;
  auto scaled = [](int64_t size, int n) { return (size * n + 7) / 8; };  // libjpeg rounds up
  for (int n = 1; n < 8; ++n) {
    if (scaled(width, n) >= at_least.min_width && scaled(height, n) >= at_least.min_height) {
      return n;
    }
  }
  return 8;
}

// Decodes into *image. Returns false after a libjpeg error (details in *errors). Only trivially
// destructible locals live in this frame, so the longjmp back here skips no destructor; image and
// scanline belong to the caller.
bool read_jpeg_pixels(jpeg_decompress_struct* cinfo, JpegErrorState* errors,
                      const std::string& bytes, DecodeSize at_least, Image* image,
                      std::vector<uint8_t>* scanline, const std::string& name) {
  if (setjmp(errors->jump)) return false;
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  jpeg_read_header(cinfo, TRUE);
  switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo->out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo->out_color_space = JCS_CMYK; break;
    default: cinfo->out_color_space = JCS_RGB; break;  // libjpeg rejects impossible requests
  }
  errors->size_error = check_image_size(cinfo->image_width, cinfo->image_height, "JPEG", name);
  if (!errors->size_error.ok()) return false;
  cinfo->scale_num = jpeg_scale_eighths(cinfo->image_width, cinfo->image_height, at_least);
  cinfo->scale_denom = 8;
  jpeg_start_decompress(cinfo);
  const int components = cinfo->output_components;
  const int64_t width = cinfo->output_width;
  image->height = cinfo->output_height;
  image->width = width;
  image->pixels.resize(static_cast<size_t>(image->height * width * 3));
  scanline->resize(static_cast<size_t>(width * components));
  while (cinfo->output_scanline < cinfo->output_height) {
    const int64_t y = cinfo->output_scanline;
    JSAMPROW row = scanline->data();
    jpeg_read_scanlines(cinfo, &row, 1);
    scanline_to_rgb(scanline->data(), components, cinfo->saw_Adobe_marker, width,
                    image->pixels.data() + y * width * 3);
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

}  // namespace

absl::StatusOr<Image> decode_jpeg(const std::string& bytes, const std::string& name,
                                  DecodeSize at_least) {
  jpeg_decompress_struct cinfo;
  std::memset(&cinfo, 0, sizeof cinfo);  // so that destroying it is safe even if never created
  JpegErrorState errors;
  cinfo.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = on_jpeg_error;
  errors.manager.emit_message = on_jpeg_message;
  Image image;
  std::vector<uint8_t> scanline;
  const bool ok = read_jpeg_pixels(&cinfo, &errors, bytes, at_least, &image, &scanline, name);
  jpeg_destroy_decompress(&cinfo);
  if (ok) return image;
  if (!errors.size_error.ok()) return errors.size_error;
  if (errors.truncated) {
    return absl::DataLossError(absl::StrCat(name, ": truncated JPEG file (", bytes.size(),
                                            " bytes; libjpeg: ", errors.message, ")"));
  }
  return absl::DataLossError(absl::StrCat(name, ": corrupt or unsupported JPEG file (libjpeg: ",
                                          errors.message, ")"));
}

}  // namespace bitgrad::image_internal
