#include "data/image_io.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/check.h"
#include "data/image_decoders.h"
#include "io/file_limits.h"

namespace bitgrad {
namespace {

// `text` at `offset` in `bytes`.
bool bytes_at(const std::string& bytes, size_t offset, std::string_view text) {
  return bytes.size() >= offset + text.size() && bytes.compare(offset, text.size(), text) == 0;
}

enum class Format { kPng, kJpeg, kWebp, kOther };

// The format a file's first bytes say it is in, of those bitgrad decodes.
Format decodable_format(const std::string& bytes) {
  if (bytes_at(bytes, 0, "\x89PNG\r\n\x1a\n")) return Format::kPng;
  if (bytes_at(bytes, 0, "\xff\xd8\xff")) return Format::kJpeg;
  if (bytes_at(bytes, 0, "RIFF") && bytes_at(bytes, 8, "WEBP")) return Format::kWebp;
  return Format::kOther;
}

std::string hex_prefix(const std::string& bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
    absl::StrAppendFormat(&out, "%s%02x", i ? " " : "", static_cast<uint8_t>(bytes[i]));
  }
  return out;
}

// The formats people save images in that bitgrad does not decode, from their first bytes
// ("" for none of them).
std::string other_image_format(const std::string& bytes) {
  auto at = [&](size_t offset, std::string_view text) { return bytes_at(bytes, offset, text); };
  if (at(4, "ftyp")) {
    for (const char* brand : {"heic", "heix", "hevc", "heim", "heis", "mif1", "msf1"}) {
      if (at(8, brand)) return "HEIF";
    }
    if (at(8, "avif") || at(8, "avis")) return "AVIF";
  }
  if (at(0, "GIF87a") || at(0, "GIF89a")) return "GIF";
  if (at(0, "BM")) return "BMP";
  if (at(0, std::string_view("II*\0", 4)) || at(0, std::string_view("MM\0*", 4))) return "TIFF";
  return "";
}

absl::StatusOr<std::string> read_file(const std::string& path) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory, not an image file"));
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    const std::string reason = absl::StrCat(path, ": cannot open image file (",
                                            error ? std::strerror(error) : "unknown error", ")");
    if (error == ENOENT) return absl::NotFoundError(reason);
    if (error == EACCES) return absl::PermissionDeniedError(reason);
    return absl::UnavailableError(reason);
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::UnavailableError(absl::StrCat(path, ": error reading image file"));
  return contents.str();
}

// Rounds to nearest, ties to even (the default floating-point rounding mode), into [0, 255]:
// std::nearbyint's result, without its libm call. Adding 2^52 to a double in [0, 2^51) leaves no
// bits for its fraction, so the addition rounds it to an integer, and subtracting 2^52 is exact.
uint8_t round_to_byte(double value) {
  if (!(value > 0)) return 0;
  if (value >= 255) return 255;
  constexpr double kTwoTo52 = 4503599627370496.0;
  return static_cast<uint8_t>((value + kTwoTo52) - kTwoTo52);
}

// For each output index, the two source indices and the weight of the second one.
struct Taps {
  std::vector<int64_t> low, high;
  std::vector<double> frac;
};

Taps bilinear_taps(int64_t in_size, int64_t out_size) {
  Taps taps;
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  for (int64_t i = 0; i < out_size; ++i) {
    double source = (static_cast<double>(i) + 0.5) * scale - 0.5;
    if (source < 0) source = 0;  // the first half pixel clamps to the edge
    const int64_t low = std::min(static_cast<int64_t>(source), in_size - 1);
    taps.low.push_back(low);
    taps.high.push_back(std::min(low + 1, in_size - 1));
    taps.frac.push_back(source - static_cast<double>(low));
  }
  return taps;
}

}  // namespace

namespace image_internal {

absl::Status check_image_size(int64_t width, int64_t height, const char* format,
                              const std::string& name) {
  if (width * height > kMaxPixels) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", format, " image of ", width, "x",
                                                   height, " is too large (over ", kMaxPixels,
                                                   " pixels)"));
  }
  return check_file_tensor_bytes(uint64_t(width) * uint64_t(height) * 3, name);
}

}  // namespace image_internal

absl::StatusOr<Image> decode_image(const std::string& bytes, const std::string& name,
                                   DecodeSize at_least) {
  if (bytes.empty()) return absl::InvalidArgumentError(absl::StrCat(name, ": empty image file"));
  switch (decodable_format(bytes)) {
    case Format::kPng:
      return image_internal::decode_png(bytes, name);
    case Format::kJpeg:
      return image_internal::decode_jpeg(bytes, name, at_least);
    case Format::kWebp:
      return image_internal::decode_webp(bytes, name);
    case Format::kOther:
      break;
  }
  const std::string format = other_image_format(bytes);
  return absl::InvalidArgumentError(absl::StrCat(
      name, ": unsupported image format", format.empty() ? "" : ": " + format, " (first bytes ",
      hex_prefix(bytes), "); expected PNG (89 50 4e 47 0d 0a 1a 0a), JPEG (ff d8 ff) or WebP "
      "(RIFF....WEBP)"));
}

std::string not_a_decodable_image(const std::string& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::StrCat("unreadable (", errno ? std::strerror(errno) : "unknown error", ")");
  std::string bytes(16, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<size_t>(in.gcount()));
  if (bytes.empty()) return "an empty file";
  if (decodable_format(bytes) != Format::kOther) return "";
  const std::string format = other_image_format(bytes);
  if (!format.empty()) return absl::StrCat(format == "AVIF" ? "an " : "a ", format, " image");
  return absl::StrCat("not an image (first bytes ", hex_prefix(bytes), ")");
}

absl::StatusOr<Image> read_image(const std::string& path, DecodeSize at_least) {
  absl::StatusOr<std::string> bytes = read_file(path);
  if (!bytes.ok()) return bytes.status();
  return decode_image(*bytes, path, at_least);
}

// Separable: each output pixel blends its column taps in the two source rows of its row taps,
//   top = (1 - fx) * row_low[x_low] + fx * row_low[x_high], bottom likewise in row_high,
// then the two: round((1 - fy) * top + fy * bottom). A source row's column blends are computed
// once for the output rows that share it.
Image resize_bilinear(const Image& image, int64_t height, int64_t width) {
  BG_CHECK(image.height > 0 && image.width > 0 &&
               image.pixels.size() == static_cast<size_t>(image.height * image.width * 3),
           "resize_bilinear: the input image is empty or its pixels do not match ",
           image.height, "x", image.width, "x3");
  BG_CHECK(height > 0 && width > 0, "resize_bilinear: target size must be positive, got ",
           height, "x", width);
  const Taps rows = bilinear_taps(image.height, height);
  const Taps cols = bilinear_taps(image.width, width);
  const int64_t row_values = width * 3;
  // The column blends of source row `row` into `blended` (row_values doubles).
  auto blend_columns = [&](int64_t row, double* blended) {
    const uint8_t* source = image.pixels.data() + row * image.width * 3;
    for (int64_t x = 0; x < width; ++x) {
      const double fx = cols.frac[x];
      const uint8_t* low = source + cols.low[x] * 3;
      const uint8_t* high = source + cols.high[x] * 3;
      for (int64_t c = 0; c < 3; ++c) blended[x * 3 + c] = (1 - fx) * low[c] + fx * high[c];
    }
  };
  // Two rows of blends, each tagged with its source row (-1: none yet).
  std::vector<double> blends(static_cast<size_t>(2 * row_values));
  double* row_blends[2] = {blends.data(), blends.data() + row_values};
  int64_t blended_row[2] = {-1, -1};
  auto blends_of = [&](int64_t row) -> const double* {
    for (int k = 0; k < 2; ++k) {
      if (blended_row[k] == row) return row_blends[k];
    }
    // Replace the upper row: the rows asked for never move up, so it is not needed again.
    const int k = blended_row[0] < blended_row[1] ? 0 : 1;
    blend_columns(row, row_blends[k]);
    blended_row[k] = row;
    return row_blends[k];
  };
  Image out{height, width, std::vector<uint8_t>(static_cast<size_t>(height * row_values))};
  for (int64_t y = 0; y < height; ++y) {
    const double fy = rows.frac[y];
    const double* top = blends_of(rows.low[y]);
    const double* bottom = blends_of(rows.high[y]);
    uint8_t* target = out.pixels.data() + y * row_values;
    for (int64_t i = 0; i < row_values; ++i) {
      target[i] = round_to_byte((1 - fy) * top[i] + fy * bottom[i]);
    }
  }
  return out;
}

Tensor image_to_tensor(const Image& image) {
  BG_CHECK(image.pixels.size() == static_cast<size_t>(image.height * image.width * 3),
           "image_to_tensor: ", image.pixels.size(), " bytes do not match ", image.height, "x",
           image.width, "x3");
  // value / 127.5 - 1 for every byte value, computed once: a division per value was one of the
  // loader's largest costs.
  static const std::array<float, 256> kUnitRange = [] {
    std::array<float, 256> table;
    for (int v = 0; v < 256; ++v) table[v] = static_cast<float>(v / 127.5 - 1.0);
    return table;
  }();
  Tensor out = empty({3, image.height, image.width});
  float* data = out.mutable_data<float>();
  const int64_t plane = image.height * image.width;
  for (int64_t i = 0; i < plane; ++i) {
    for (int64_t c = 0; c < 3; ++c) data[c * plane + i] = kUnitRange[image.pixels[i * 3 + c]];
  }
  return out;
}

}  // namespace bitgrad
