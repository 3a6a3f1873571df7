#include "data/image_io.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/random.h"
#include "gtest/gtest.h"
#include "io/file_limits.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::throws_error;

// Fixtures: tools/golden/gen_image_fixtures.py, described in testdata/README.md.
std::string testdata(const std::string& name) { return "tests/data/testdata/" + name; }

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open fixture " << path;
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::string write_temp(const std::string& name, const std::string& bytes) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir ? dir : "/tmp") + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// Binary PPM (P6, maxval 255): the expected pixels.
Image read_ppm(const std::string& path) {
  std::istringstream in(read_bytes(path));
  std::string magic;
  int width = 0, height = 0, maxval = 0;
  in >> magic >> width >> height >> maxval;
  in.get();  // the single whitespace byte before the pixels
  EXPECT_EQ(magic, "P6") << path;
  EXPECT_EQ(maxval, 255) << path;
  Image image{height, width, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3)};
  in.read(reinterpret_cast<char*>(image.pixels.data()), image.pixels.size());
  EXPECT_TRUE(in.good()) << path << " is short";
  return image;
}

// Same size and every sample within max_diff; reports the worst sample and the count over.
::testing::AssertionResult same_pixels(const Image& actual, const Image& expected,
                                       int max_diff = 0) {
  if (actual.height != expected.height || actual.width != expected.width) {
    return ::testing::AssertionFailure() << "size " << actual.height << "x" << actual.width
                                         << " != " << expected.height << "x" << expected.width;
  }
  int worst = 0;
  size_t worst_at = 0, over = 0;
  for (size_t i = 0; i < expected.pixels.size(); ++i) {
    const int diff = std::abs(int{actual.pixels[i]} - int{expected.pixels[i]});
    if (diff > worst) worst = diff, worst_at = i;
    if (diff > max_diff) ++over;
  }
  if (over == 0) return ::testing::AssertionSuccess() << "max diff " << worst;
  const size_t pixel = worst_at / 3;
  return ::testing::AssertionFailure()
         << over << " samples differ by more than " << max_diff << "; worst " << worst
         << " at (y=" << pixel / expected.width << ", x=" << pixel % expected.width
         << ", c=" << worst_at % 3 << "): " << int{actual.pixels[worst_at]} << " vs "
         << int{expected.pixels[worst_at]};
}

Image decode_ok(const std::string& name) {
  absl::StatusOr<Image> image = read_image(testdata(name));
  EXPECT_TRUE(image.ok()) << image.status();
  return image.ok() ? *image : Image{};
}

// Expects an error of `code` whose message contains every fragment.
void expect_error(const absl::StatusOr<Image>& result, absl::StatusCode code,
                  const std::vector<std::string>& fragments) {
  ASSERT_FALSE(result.ok()) << "decoded an image of " << result->height << "x" << result->width;
  EXPECT_EQ(result.status().code(), code) << result.status();
  for (const std::string& fragment : fragments) {
    EXPECT_NE(result.status().message().find(fragment), std::string::npos)
        << "'" << result.status().message() << "' lacks '" << fragment << "'";
  }
}

// ---- PNG: exact pixels ------------------------------------------------------------------------

TEST(ImageIoTest, PngColourTypesAndDepthsDecodeExactly) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"rgb8.png", "rgb8.ppm"},       {"rgb8_interlaced.png", "rgb8.ppm"},
      {"gray8.png", "gray8.ppm"},     {"gray1.png", "gray1.ppm"},
      {"gray16.png", "gray16.ppm"},   {"rgb16.png", "rgb16.ppm"},
      {"rgba8.png", "rgba8.ppm"},     {"gray_alpha8.png", "gray_alpha8.ppm"},
      {"palette2.png", "palette2.ppm"}};
  for (const auto& [png, ppm] : cases) {
    EXPECT_TRUE(same_pixels(decode_ok(png), read_ppm(testdata(ppm)))) << png;
  }
}

TEST(ImageIoTest, PngSixteenBitsRoundToNearest) {
  // gray16.png's first row starts 0, 65535, 128, 129: v * 255 / 65535 = 0, 255, 0.498, 0.502.
  const Image image = decode_ok("gray16.png");
  ASSERT_EQ(image.width, 5);
  const std::vector<int> expected = {0, 255, 0, 1};
  for (int x = 0; x < 4; ++x) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(image.at(0, x, c), expected[x]) << "x=" << x;
  }
}

TEST(ImageIoTest, AlphaIsDroppedNotComposited) {
  // rgba8.png: pixel (0,0) is fully transparent, (0,1) opaque; both keep their stored colour.
  const Image image = decode_ok("rgba8.png");
  const Image expected = read_ppm(testdata("rgba8.ppm"));
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(image.at(0, 0, c), expected.at(0, 0, c));
    EXPECT_EQ(image.at(0, 1, c), expected.at(0, 1, c));
  }
  EXPECT_NE(expected.at(0, 0, 0) + expected.at(0, 0, 1) + expected.at(0, 0, 2), 0)
      << "the fixture's transparent pixel should not be black, or this test proves nothing";
}

// ---- JPEG: against PIL ------------------------------------------------------------------------

TEST(ImageIoTest, JpegMatchesPil) {
  // PIL links the same libjpeg-turbo with the same defaults, so 0 is expected; 2 allows for a
  // different IDCT build.
  for (const std::string name : {"rgb", "rgb_progressive", "gray", "cmyk"}) {
    const ::testing::AssertionResult result =
        same_pixels(decode_ok(name + ".jpg"), read_ppm(testdata(name + ".ppm")), 2);
    EXPECT_TRUE(result) << name;
    std::printf("%s.jpg vs PIL: %s\n", name.c_str(), result.message());
  }
}

Image decode_ok_at_least(const std::string& name, DecodeSize at_least) {
  absl::StatusOr<Image> image = read_image(testdata(name), at_least);
  EXPECT_TRUE(image.ok()) << image.status();
  return image.ok() ? *image : Image{};
}

TEST(ImageIoTest, JpegDecodedSmallerMatchesPilsDraft) {
  // Scales 1/2, 1/4, 1/8 and 1/4, which PIL's draft mode also picks for these sizes.
  for (const auto& [name, height, width] : std::vector<std::tuple<std::string, int, int>>{
           {"rgb", 7, 9}, {"rgb", 4, 5}, {"rgb", 2, 3}, {"smooth32", 8, 8}}) {
    const std::string fixture = absl::StrCat(name, "_scaled_", height, "x", width, ".ppm");
    const ::testing::AssertionResult result = same_pixels(
        decode_ok_at_least(name + ".jpg", {height, width}), read_ppm(testdata(fixture)), 2);
    EXPECT_TRUE(result) << fixture;
    std::printf("%s vs PIL: %s\n", fixture.c_str(), result.message());
  }
}

TEST(ImageIoTest, JpegScaleIsTheSmallestThatKeepsTheSize) {
  auto size = [](DecodeSize at_least) {
    const Image image = decode_ok_at_least("rgb.jpg", at_least);  // 13x17
    return std::make_pair(image.height, image.width);
  };
  using Size = std::pair<int64_t, int64_t>;
  EXPECT_EQ(size({5, 7}), Size(5, 7));     // 3/8, rounded up: no power of two needed
  EXPECT_EQ(size({5, 6}), Size(5, 7));     // 2/8 gives 4x5: too small
  EXPECT_EQ(size({1, 1}), Size(2, 3));     // 1/8 is the smallest there is
  EXPECT_EQ(size({13, 17}), Size(13, 17));
  EXPECT_EQ(size({11, 14}), Size(12, 15));  // 7/8: the largest scale short of full size
  EXPECT_EQ(size({14, 5}), Size(13, 17));  // larger than the image: full size
  EXPECT_EQ(size({}), Size(13, 17));       // no hint
  EXPECT_EQ(size({0, 10}), Size(13, 17));  // either side 0 is no hint either
  EXPECT_EQ(size({10, 0}), Size(13, 17));
  // PNG has no such scaling.
  const Image png = decode_ok_at_least("rgb8.png", {1, 1});
  EXPECT_TRUE(same_pixels(png, read_ppm(testdata("rgb8.ppm"))));
}

// CMYK to RGB rounds (255 - C)(255 - K) / 255 to the nearest level, as PIL does. JpegMatchesPil
// allows for a different IDCT build, which moves samples either way; a conversion that
// truncated instead would make the image darker on average than PIL's.
TEST(ImageIoTest, CmykConversionRoundsToNearest) {
  const Image decoded = decode_ok("cmyk.jpg"), pil = read_ppm(testdata("cmyk.ppm"));
  ASSERT_EQ(decoded.pixels.size(), pil.pixels.size());
  double total_difference = 0;
  for (size_t i = 0; i < pil.pixels.size(); ++i) {
    total_difference += int{decoded.pixels[i]} - int{pil.pixels[i]};
  }
  const double mean_difference = total_difference / static_cast<double>(pil.pixels.size());
  EXPECT_LT(std::abs(mean_difference), 0.1) << mean_difference;
}

TEST(ImageIoTest, GrayJpegIsReplicated) {
  const Image image = decode_ok("gray.jpg");
  for (int64_t i = 0; i < image.height * image.width; ++i) {
    ASSERT_EQ(image.pixels[3 * i], image.pixels[3 * i + 1]);
    ASSERT_EQ(image.pixels[3 * i], image.pixels[3 * i + 2]);
  }
}

TEST(ImageIoTest, FormatComesFromContentNotName) {
  absl::StatusOr<Image> image = decode_image(read_bytes(testdata("rgb.jpg")), "photo.png");
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_TRUE(same_pixels(*image, read_ppm(testdata("rgb.ppm")), 2));
}

// ---- resize -----------------------------------------------------------------------------------

TEST(ImageIoTest, ResizeMatchesTorchBilinearWithoutAntialias) {
  const Image source = read_ppm(testdata("rgb8.ppm"));  // 5 x 7
  for (const auto& [h, w] : std::vector<std::pair<int, int>>{
           {11, 13}, {3, 2}, {9, 3}, {5, 7}, {1, 1}, {2, 14}}) {
    const std::string name =
        "rgb8_resized_" + std::to_string(h) + "x" + std::to_string(w) + ".ppm";
    EXPECT_TRUE(same_pixels(resize_bilinear(source, h, w), read_ppm(testdata(name)))) << name;
  }
}

// Random images, up and down and to odd sizes, against bilinear resizing's definition pixel by
// pixel (the row taps' blend of the column taps' blends, rounded half to even), byte for byte.
TEST(ImageIoTest, ResizeMatchesItsDefinitionOnRandomImages) {
  // For each output index: its two source indices and the weight of the second.
  auto taps = [](int64_t in_size, int64_t out_size, int64_t i) {
    const double scale = static_cast<double>(in_size) / out_size;
    const double source = std::max(0.0, (i + 0.5) * scale - 0.5);
    const int64_t low = std::min(static_cast<int64_t>(source), in_size - 1);
    return std::make_tuple(low, std::min(low + 1, in_size - 1), source - low);
  };
  Generator generator(9);
  for (const auto& [in_h, in_w, out_h, out_w] : std::vector<std::array<int64_t, 4>>{
           {28, 28, 32, 32}, {28, 28, 40, 40}, {5, 7, 11, 13}, {13, 11, 4, 3}, {9, 2, 1, 9},
           {1, 1, 3, 2}, {31, 17, 31, 18}, {64, 48, 7, 29}}) {
    Image image{in_h, in_w, std::vector<uint8_t>(static_cast<size_t>(in_h * in_w * 3))};
    for (uint8_t& v : image.pixels) v = static_cast<uint8_t>(generator.randint(256));
    const Image out = resize_bilinear(image, out_h, out_w);
    ASSERT_EQ(out.height, out_h);
    ASSERT_EQ(out.width, out_w);
    for (int64_t y = 0; y < out_h; ++y)
      for (int64_t x = 0; x < out_w; ++x)
        for (int64_t c = 0; c < 3; ++c) {
          const auto [y0, y1, fy] = taps(in_h, out_h, y);
          const auto [x0, x1, fx] = taps(in_w, out_w, x);
          const double top = (1 - fx) * image.at(y0, x0, c) + fx * image.at(y0, x1, c);
          const double bottom = (1 - fx) * image.at(y1, x0, c) + fx * image.at(y1, x1, c);
          const double value = std::nearbyint((1 - fy) * top + fy * bottom);
          ASSERT_EQ(out.at(y, x, c), std::clamp(value, 0.0, 255.0))
              << in_h << "x" << in_w << " -> " << out_h << "x" << out_w << ", pixel (" << y
              << ", " << x << "), channel " << c;
        }
  }
}

TEST(ImageIoTest, ResizeHandComputedRamp) {
  // Width 2 -> 4: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (high tap clamped).
  Image ramp{1, 2, {0, 0, 0, 100, 200, 255}};
  const Image wide = resize_bilinear(ramp, 1, 4);
  const std::vector<int> red = {0, 25, 75, 100}, green = {0, 50, 150, 200};
  // Blue: 0.75 * 0 + 0.25 * 255 = 63.75 -> 64; 0.25 * 0 + 0.75 * 255 = 191.25 -> 191.
  const std::vector<int> blue = {0, 64, 191, 255};
  for (int x = 0; x < 4; ++x) {
    EXPECT_EQ(wide.at(0, x, 0), red[x]) << x;
    EXPECT_EQ(wide.at(0, x, 1), green[x]) << x;
    EXPECT_EQ(wide.at(0, x, 2), blue[x]) << x;
  }
  // Ties round to even: 4 -> 8 over {1, 2}: the middle outputs are 1.25, 1.75 -> 1, 2; and
  // {1, 4} 2 -> 1 averages to 2.5 -> 2 (even), {3, 4} to 3.5 -> 4.
  Image ties{1, 2, {1, 3, 0, 4, 4, 0}};
  const Image halved = resize_bilinear(ties, 1, 1);
  EXPECT_EQ(halved.at(0, 0, 0), 2);
  EXPECT_EQ(halved.at(0, 0, 1), 4);
  EXPECT_EQ(halved.at(0, 0, 2), 0);
}

TEST(ImageIoTest, ResizeKeepsConstantImagesAndSameSize) {
  Image flat{3, 4, std::vector<uint8_t>(36, 77)};
  const Image out = resize_bilinear(flat, 7, 2);
  EXPECT_TRUE(std::all_of(out.pixels.begin(), out.pixels.end(), [](uint8_t v) { return v == 77; }));
  const Image source = read_ppm(testdata("rgb8.ppm"));
  EXPECT_TRUE(same_pixels(resize_bilinear(source, source.height, source.width), source));
}

TEST(ImageIoTest, ResizeRejectsBadSizes) {
  Image one{1, 1, {1, 2, 3}};
  EXPECT_TRUE(throws_error([&] { resize_bilinear(one, 0, 3); },
                           {"resize_bilinear", "target size", "0x3"}));
  EXPECT_TRUE(throws_error([&] { resize_bilinear(Image{}, 2, 2); }, {"resize_bilinear", "empty"}));
  Image short_pixels{2, 2, {1, 2, 3}};
  EXPECT_TRUE(throws_error([&] { resize_bilinear(short_pixels, 2, 2); },
                           {"resize_bilinear", "2x2x3"}));
}

// ---- tensor conversion ------------------------------------------------------------------------

TEST(ImageIoTest, ImageToTensorIsChwInMinusOneToOne) {
  Image image{1, 2, {0, 127, 255, 51, 204, 102}};
  const Tensor t = image_to_tensor(image);
  EXPECT_EQ(t.shape(), Shape({3, 1, 2}));
  EXPECT_EQ(t.dtype(), DType::kFloat32);
  // value / 127.5 - 1, channel planes first.
  EXPECT_TRUE(all_close(t, from_vector<float>({-1.0f, 51 / 127.5f - 1, 127 / 127.5f - 1,
                                               204 / 127.5f - 1, 1.0f, 102 / 127.5f - 1},
                                              {3, 1, 2}),
                        0, 1e-7));
  Image bad{2, 2, {1}};
  EXPECT_TRUE(throws_error([&] { image_to_tensor(bad); }, {"image_to_tensor", "2x2x3"}));
}

// ---- errors -----------------------------------------------------------------------------------

TEST(ImageIoTest, MissingFileIsNotFound) {
  expect_error(read_image(testdata("no_such_image.png")), absl::StatusCode::kNotFound,
               {"no_such_image.png", "No such file"});
}

TEST(ImageIoTest, DirectoryIsRefused) {
  expect_error(read_image("tests/data/testdata"), absl::StatusCode::kInvalidArgument,
               {"tests/data/testdata", "directory"});
}

TEST(ImageIoTest, EmptyAndUnsupportedFiles) {
  expect_error(read_image(write_temp("empty.jpg", "")), absl::StatusCode::kInvalidArgument,
               {"empty.jpg", "empty image file"});
  expect_error(read_image(write_temp("anim.gif", "GIF89a\x01\x00\x01\x00")),
               absl::StatusCode::kInvalidArgument,
               {"anim.gif", "unsupported image format: GIF", "47 49 46 38 39 61"});
  expect_error(decode_image("hello", "notes.txt"), absl::StatusCode::kInvalidArgument,
               {"notes.txt", "unsupported", "68 65 6c 6c 6f"});
  // Two bytes of a JPEG signature are not enough to call it a JPEG.
  expect_error(decode_image("\xff\xd8", "short"), absl::StatusCode::kInvalidArgument,
               {"short", "unsupported"});
}

// What a file holds, from its first 16 bytes, for folders checked before a run.
TEST(ImageIoTest, NotADecodableImageNamesWhatAFileHolds) {
  for (const char* image : {"rgb8.png", "rgb.jpg", "cmyk.jpg", "rgb_lossy.webp"}) {
    EXPECT_EQ(not_a_decodable_image(testdata(image)), "") << image;
  }
  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string("\0\0\0\x18" "ftypheic", 12), "a HEIF image"},
      {std::string("\0\0\0\x18" "ftypmif1", 12), "a HEIF image"},
      {std::string("\0\0\0\x1c" "ftypavif", 12), "an AVIF image"},
      {std::string("\0\0\0\x1c" "ftypavis", 12), "an AVIF image"},  // an AVIF sequence
      {"GIF87a\x01\x00", "a GIF image"},
      {"BM\x36\x00\x00\x00", "a BMP image"},
      {std::string("II*\0\x08\0\0\0", 8), "a TIFF image"},
      {std::string("MM\0*\0\0\0\x08", 8), "a TIFF image"},
      {"", "an empty file"},
      {"\xff\xd8", "not an image (first bytes ff d8)"},
      {"RIFF....WAVEfmt ", "not an image (first bytes 52 49 46 46 2e 2e 2e 2e)"},
  };
  for (const auto& [bytes, holds] : cases) {
    EXPECT_EQ(not_a_decodable_image(write_temp("sniffed.jpg", bytes)), holds) << holds;
  }
  EXPECT_EQ(not_a_decodable_image(testdata("no_such_image.png")),
            "unreadable (No such file or directory)");
  expect_error(decode_image(std::string("\0\0\0\x18" "ftypheic", 12), "photo.jpg"),
               absl::StatusCode::kInvalidArgument, {"photo.jpg", "unsupported image format: HEIF"});
}

// WebP as PIL decodes it (libwebp's defaults): lossy and lossless, alpha dropped with the colour
// under a transparent pixel kept.
TEST(ImageIoTest, WebPDecodesAsPilDoes) {
  for (const char* name : {"rgb_lossy", "rgb_lossless", "rgba_lossless"}) {
    EXPECT_TRUE(same_pixels(decode_ok(std::string(name) + ".webp"),
                            read_ppm(testdata(std::string(name) + "_webp.ppm"))))
        << name;
  }
  expect_error(read_image(testdata("animated.webp")), absl::StatusCode::kInvalidArgument,
               {"animated.webp", "animated WebP", "still images"});
}



TEST(ImageIoTest, TruncatedFilesAreDataLoss) {
  const std::string png = read_bytes(testdata("smooth32.png"));
  const std::string jpeg = read_bytes(testdata("smooth32.jpg"));
  expect_error(read_image(write_temp("half.png", png.substr(0, png.size() / 2))),
               absl::StatusCode::kDataLoss, {"half.png", "truncated PNG"});
  expect_error(decode_image(png.substr(0, png.size() - 12), "no_iend.png"),
               absl::StatusCode::kDataLoss, {"no_iend.png", "truncated PNG"});
  expect_error(decode_image(png.substr(0, 8), "signature_only.png"),
               absl::StatusCode::kDataLoss, {"signature_only.png", "truncated PNG"});
  expect_error(read_image(write_temp("half.jpg", jpeg.substr(0, jpeg.size() / 2))),
               absl::StatusCode::kDataLoss, {"half.jpg", "truncated JPEG", "Premature end"});
  expect_error(decode_image(jpeg.substr(0, jpeg.size() - 2), "no_eoi.jpg"),
               absl::StatusCode::kDataLoss, {"no_eoi.jpg", "truncated JPEG"});
  const std::string webp = read_bytes(testdata("smooth32.webp"));
  expect_error(decode_image(webp.substr(0, webp.size() / 2), "half.webp"),
               absl::StatusCode::kDataLoss, {"half.webp", "WebP"});
  // Cut inside the frame header: too short for libwebp to tell its size.
  expect_error(decode_image(webp.substr(0, 20), "header.webp"), absl::StatusCode::kDataLoss,
               {"header.webp", "truncated WebP file (20 bytes)"});
}

TEST(ImageIoTest, EveryProperPrefixFailsCleanly) {
  for (const std::string name : {"smooth32.png", "smooth32.jpg", "rgb8_interlaced.png",
                                 "rgb_progressive.jpg", "smooth32.webp", "rgba_lossless.webp"}) {
    const std::string bytes = read_bytes(testdata(name));
    for (size_t length = 0; length < bytes.size(); ++length) {
      absl::StatusOr<Image> result = decode_image(bytes.substr(0, length), name);
      ASSERT_FALSE(result.ok()) << name << " cut to " << length << " bytes decoded";
      ASSERT_NE(result.status().message().find(name), std::string::npos) << result.status();
    }
    EXPECT_TRUE(decode_image(bytes, name).ok()) << name;
  }
}

TEST(ImageIoTest, CorruptPngIsDataLossNamingLibpngsReason) {
  std::string png = read_bytes(testdata("smooth32.png"));
  const size_t idat = png.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  std::string bad_data = png;
  bad_data[idat + 10] ^= 0x55;  // inside the compressed data: zlib fails before the CRC check
  expect_error(decode_image(bad_data, "flipped.png"), absl::StatusCode::kDataLoss,
               {"flipped.png", "corrupt PNG", "libpng: IDAT"});
  std::string bad_crc = png;
  bad_crc[png.size() - 13] ^= 0x01;  // the IDAT chunk's CRC (IEND is the last 12 bytes)
  expect_error(decode_image(bad_crc, "crc.png"), absl::StatusCode::kDataLoss,
               {"crc.png", "corrupt PNG", "CRC error"});
  std::string bad_header = read_bytes(testdata("rgb8.png"));
  bad_header[16] = 0x7f;  // IHDR width: 0x7f000007, and its CRC breaks too
  expect_error(decode_image(bad_header, "header.png"), absl::StatusCode::kDataLoss,
               {"header.png", "corrupt PNG"});
}

TEST(ImageIoTest, ImagesOverTheFileLimitAreRefusedBeforeDecoding) {
  const uint64_t saved_limit = max_file_tensor_bytes();
  set_max_file_tensor_bytes(32 * 32 * 3 - 1);  // one byte short of smooth32's RGB pixels
  for (const std::string name : {"smooth32.png", "smooth32.jpg", "smooth32.webp"}) {
    expect_error(decode_image(read_bytes(testdata(name)), name),
                 absl::StatusCode::kInvalidArgument,
                 {name, "3072 bytes", "over the limit of 3071", "BITGRAD_MAX_FILE_TENSOR_BYTES"});
  }
  set_max_file_tensor_bytes(32 * 32 * 3);
  EXPECT_TRUE(decode_image(read_bytes(testdata("smooth32.png")), "smooth32.png").ok());
  set_max_file_tensor_bytes(saved_limit);
}

// rgb8.png with an IHDR that claims `width` x `height`, its CRC made to match.
std::string png_claiming(uint32_t width, uint32_t height) {
  std::string png = read_bytes(testdata("rgb8.png"));
  for (int i = 0; i < 4; ++i) {
    png[16 + i] = static_cast<char>(width >> (24 - 8 * i));
    png[20 + i] = static_cast<char>(height >> (24 - 8 * i));
  }
  const uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(png.data() + 12), 17);
  for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<char>(crc >> (24 - 8 * i));
  return png;
}

// Past kMaxPixels (2^28) an image is refused from its header however high the byte limit is: a
// 16385 x 16385 photo would be 805 MB of pixels.
TEST(ImageIoTest, ImagesOverThePixelLimitAreRefusedBeforeDecoding) {
  const uint64_t saved_limit = max_file_tensor_bytes();
  set_max_file_tensor_bytes(uint64_t{1} << 40);
  expect_error(decode_image(png_claiming(16385, 16385), "huge.png"),
               absl::StatusCode::kInvalidArgument,
               {"huge.png", "PNG image of 16385x16385 is too large (over 268435456 pixels)"});
  set_max_file_tensor_bytes(saved_limit);
}

TEST(ImageIoTest, CorruptJpegHeaderIsDataLoss) {
  expect_error(decode_image(std::string("\xff\xd8\xff\x00garbage-not-a-marker", 23), "junk.jpg"),
               absl::StatusCode::kDataLoss, {"junk.jpg", "JPEG", "libjpeg"});
}

TEST(ImageIoTest, FlippedBytesNeverCrash) {
  // libjpeg recovers from most damage inside the entropy-coded data (with warnings, as PIL
  // does); anything else must come back as an error naming the file.
  for (const std::string name : {"smooth32.png", "smooth32.jpg", "cmyk.jpg", "palette2.png"}) {
    const std::string original = read_bytes(testdata(name));
    int decoded = 0, refused = 0;
    for (size_t i = 0; i < original.size(); i += 3) {
      std::string bytes = original;
      bytes[i] ^= static_cast<char>(0xa5);
      absl::StatusOr<Image> result = decode_image(bytes, name);
      if (result.ok()) {
        ++decoded;
        ASSERT_EQ(result->pixels.size(), static_cast<size_t>(result->height * result->width * 3));
      } else {
        ++refused;
        ASSERT_NE(result.status().message().find(name), std::string::npos) << result.status();
      }
    }
    std::printf("%s: %d damaged copies decoded, %d refused\n", name.c_str(), decoded, refused);
    EXPECT_GT(refused, 0) << name;
  }
}

}  // namespace
}  // namespace bitgrad
