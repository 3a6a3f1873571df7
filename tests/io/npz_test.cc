#include "io/npz.h"

#include <zip.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::fails_naming;

const std::string kData = "tests/io/testdata/";

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

// The raw bytes of one zip entry, read with libzip directly (not through NpzReader).
std::string raw_entry(const std::string& path, const std::string& name) {
  int code = 0;
  zip_t* zip = zip_open(path.c_str(), ZIP_RDONLY, &code);
  EXPECT_NE(zip, nullptr) << path;
  if (zip == nullptr) return "";
  zip_stat_t stat;
  zip_stat(zip, name.c_str(), 0, &stat);
  std::string bytes(stat.size, '\0');
  zip_file_t* file = zip_fopen(zip, name.c_str(), 0);
  zip_fread(file, bytes.data(), bytes.size());
  zip_fclose(file);
  zip_discard(zip);
  return bytes;
}

template <typename T>
absl::Status status_of(const absl::StatusOr<T>& result) {
  return result.status();
}

// The arrays of make_npz_fixtures.py's sample_arrays(), restated.
void expect_sample_arrays(const NamedArrays& arrays, const std::string& file) {
  SCOPED_TRACE(file);
  ASSERT_EQ(arrays.size(), 6u);
  std::vector<std::string> keys;
  for (const auto& entry : arrays) keys.push_back(entry.first);
  EXPECT_EQ(keys, (std::vector<std::string>{"f32", "dir/f64", "i64", "u8", "scalar", "empty"}));

  const Tensor& f32 = arrays[0].second;
  EXPECT_EQ(f32.dtype(), DType::kFloat32);
  EXPECT_EQ(f32.shape(), Shape({2, 3, 4}));
  for (int i = 0; i < 24; ++i) EXPECT_EQ(f32.data<float>()[i], i * 0.5f - 3.0f);

  const Tensor& f64 = arrays[1].second;
  EXPECT_EQ(f64.dtype(), DType::kFloat64);
  EXPECT_EQ(f64.to_vector<double>(), (std::vector<double>{1.0 / 3.0, -2.5, 1e-300, 7.0}));

  const Tensor& i64 = arrays[2].second;
  EXPECT_EQ(i64.shape(), Shape({2, 2}));
  EXPECT_EQ(i64.to_vector<int64_t>(),
            (std::vector<int64_t>{-(int64_t{1} << 40), -1, 0, int64_t{1} << 62}));

  const Tensor& u8 = arrays[3].second;
  EXPECT_EQ(u8.dtype(), DType::kUInt8);
  EXPECT_EQ(u8.to_vector<uint8_t>(), (std::vector<uint8_t>{250, 251, 252, 253, 254}));

  EXPECT_EQ(arrays[4].second.shape(), Shape({}));
  EXPECT_EQ(arrays[4].second.item<float>(), 42.5f);
  EXPECT_EQ(arrays[5].second.shape(), Shape({0, 3}));
}

TEST(NpzTest, ReadsNumpyStoredArchive) {
  auto arrays = read_npz(kData + "sample_stored.npz");
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  expect_sample_arrays(*arrays, "stored");
}

TEST(NpzTest, ReadsNumpyDeflatedArchive) {
  auto arrays = read_npz(kData + "sample_deflated.npz");
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  expect_sample_arrays(*arrays, "deflated");
}

TEST(NpzTest, ReadsZip64Archive) {
  // Zip64 extra fields everywhere and 0xFFFF placeholders in the classic end record.
  auto arrays = read_npz(kData + "sample_zip64.npz");
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  ASSERT_EQ(arrays->size(), 2u);
  EXPECT_EQ((*arrays)[0].second.to_vector<float>()[23], 23 * 0.5f - 3.0f);
  EXPECT_EQ((*arrays)[1].second.to_vector<int64_t>()[3], int64_t{1} << 62);
}

TEST(NpzTest, ReadsNpyFormatVersions2And3) {
  auto arrays = read_npz(kData + "npy_versions.npz");
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  ASSERT_EQ(arrays->size(), 2u);
  EXPECT_EQ((*arrays)[0].second.shape(), Shape({2, 3, 4}));
  EXPECT_EQ((*arrays)[0].second.to_vector<float>()[5], 5 * 0.5f - 3.0f);
  EXPECT_EQ((*arrays)[1].second.to_vector<double>()[0], 1.0 / 3.0);
}

TEST(NpzTest, ReaderListsArraysBeforeReadingThem) {
  auto reader = NpzReader::open(kData + "sample_deflated.npz");
  ASSERT_TRUE(reader.ok()) << reader.status();
  const NpzArrayInfo* info = (*reader)->find("dir/f64");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->dtype, DType::kFloat64);
  EXPECT_EQ(info->shape, Shape({4}));
  EXPECT_EQ((*reader)->find("f64"), nullptr);
  EXPECT_TRUE(fails_naming(status_of((*reader)->read("missing/key")),
                           {"sample_deflated.npz", "'missing/key'", "missing/key.npy"}));
  EXPECT_TRUE(absl::IsNotFound(status_of((*reader)->read("missing/key"))));
}

TEST(NpzTest, OurHeaderIsByteForByteNumpys) {
  const std::string numpy_npy = raw_entry(kData + "sample_stored.npz", "f32.npy");
  auto ours = encode_npy_header(DType::kFloat32, {2, 3, 4});
  ASSERT_TRUE(ours.ok());
  EXPECT_EQ(numpy_npy.substr(0, ours->size()), *ours);
  EXPECT_EQ(ours->size() % 64, 0u);
}

TEST(NpzTest, WriteThenReadIsBitExactStoredAndDeflated) {
  auto sample = read_npz(kData + "sample_stored.npz");
  ASSERT_TRUE(sample.ok());
  for (NpzCompression compression : {NpzCompression::kStored, NpzCompression::kDeflated}) {
    const std::string path = temp_path("roundtrip.npz");
    ASSERT_TRUE(write_npz(path, *sample, compression).ok());
    auto back = read_npz(path);
    ASSERT_TRUE(back.ok()) << back.status();
    expect_sample_arrays(*back, "written");
    for (size_t i = 0; i < sample->size(); ++i) {
      const Tensor& a = (*sample)[i].second;
      const Tensor& b = (*back)[i].second;
      ASSERT_EQ(a.nbytes(), b.nbytes());
      EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()), 0) << (*sample)[i].first;
    }
    // Each entry says how it was stored.
    int code = 0;
    zip_t* zip = zip_open(path.c_str(), ZIP_RDONLY, &code);
    ASSERT_NE(zip, nullptr);
    zip_stat_t stat;
    zip_stat(zip, "f32.npy", 0, &stat);
    EXPECT_EQ(stat.comp_method,
              compression == NpzCompression::kStored ? ZIP_CM_STORE : ZIP_CM_DEFLATE);
    zip_discard(zip);
  }
}

TEST(NpzTest, WritingTheSameArraysGivesTheSameBytes) {
  auto sample = read_npz(kData + "sample_deflated.npz");
  ASSERT_TRUE(sample.ok());
  ASSERT_TRUE(write_npz(temp_path("same1.npz"), *sample).ok());
  ASSERT_TRUE(write_npz(temp_path("same2.npz"), *sample).ok());
  EXPECT_EQ(read_file(temp_path("same1.npz")), read_file(temp_path("same2.npz")));
}

TEST(NpzTest, WriteReplacesAnExistingFileAndLeavesNoTemporary) {
  const std::string dir = temp_path("replace_dir");
  ASSERT_EQ(system(("rm -rf " + dir + " && mkdir -p " + dir).c_str()), 0);
  const std::string path = dir + "/weights.npz";
  write_file(path, "old contents");
  ASSERT_TRUE(write_npz(path, {{"x", full({3}, 1.5)}}).ok());
  auto back = read_npz(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)[0].second.to_vector<float>(), (std::vector<float>{1.5f, 1.5f, 1.5f}));
  // Only the destination is left in the directory.
  ASSERT_EQ(system(("test $(ls -A " + dir + " | wc -l) -eq 1").c_str()), 0);
}

TEST(NpzTest, AnEmptyArchiveRoundTrips) {
  const std::string path = temp_path("empty.npz");
  ASSERT_TRUE(write_npz(path, {}).ok());
  auto back = read_npz(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->empty());
}

TEST(NpzTest, WriteErrorsNameTheFileAndKey) {
  const std::string path = temp_path("bad_write.npz");
  EXPECT_TRUE(fails_naming(write_npz(path, {{"w", zeros({2}, DType::kBFloat16)}}),
                           {"bad_write.npz", "'w'", "bfloat16"}));
  EXPECT_TRUE(fails_naming(write_npz(path, {{"a", ones({1})}, {"a", ones({1})}}),
                           {"bad_write.npz", "'a'", "twice"}));
  const std::string nowhere = temp_path("no/such/dir/w.npz");
  EXPECT_TRUE(fails_naming(write_npz(nowhere, {{"a", ones({1})}}), {nowhere}));
  EXPECT_FALSE(file_exists(path));
}

// ------------------------------------------------------------------------------------------------
// Bad files: every message names the file and, where there is one, the array.

TEST(NpzTest, MissingFile) {
  EXPECT_TRUE(fails_naming(status_of(read_npz(kData + "nope.npz")), {"nope.npz", "no such file"}));
}

TEST(NpzTest, NotAZip) {
  EXPECT_TRUE(fails_naming(status_of(read_npz(kData + "not_a_zip.npz")),
                           {"not_a_zip.npz", "not a zip archive"}));
  const std::string empty_file = temp_path("zero_bytes.npz");
  write_file(empty_file, "");
  EXPECT_TRUE(fails_naming(status_of(read_npz(empty_file)), {"zero_bytes.npz", "empty"}));
  const std::string bare_npy = temp_path("bare.npz");
  write_file(bare_npy, raw_entry(kData + "sample_stored.npz", "f32.npy"));
  EXPECT_TRUE(fails_naming(status_of(read_npz(bare_npy)), {"bare.npz", "single .npy array"}));
}

TEST(NpzTest, TruncatedArchive) {
  const std::string whole = read_file(kData + "sample_stored.npz");
  for (size_t keep : {whole.size() / 2, whole.size() - 10}) {
    const std::string path = temp_path("cut.npz");
    write_file(path, whole.substr(0, keep));
    EXPECT_TRUE(fails_naming(status_of(read_npz(path)), {"cut.npz", "truncated or corrupt"}))
        << "kept " << keep << " of " << whole.size() << " bytes";
  }
}

TEST(NpzTest, CorruptDataFailsTheChecksum) {
  std::string bytes = read_file(kData + "sample_stored.npz");
  // The f32 entry is stored first: flip a byte of its data (after the 30-byte local header, the
  // name, the zip64 extra field and the 128-byte .npy header).
  const size_t data = bytes.find("\x93NUMPY") + 128 + 40;
  bytes[data] ^= 0x55;
  const std::string path = temp_path("flipped.npz");
  write_file(path, bytes);
  auto reader = NpzReader::open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_TRUE(fails_naming(status_of((*reader)->read("f32")), {"flipped.npz", "'f32'"}));
}

TEST(NpzTest, TruncatedArrayData) {
  EXPECT_TRUE(fails_naming(status_of(read_npz(kData + "truncated_npy.npz")),
                           {"truncated_npy.npz", "'x'", "truncated", "(2, 3, 4)", "needs 96",
                            "holds 88"}));
}

TEST(NpzTest, BadMagicAndBadHeader) {
  EXPECT_TRUE(fails_naming(status_of(read_npz(kData + "bad_magic.npz")),
                           {"bad_magic.npz", "'x'", "bad .npy header", "magic"}));
  EXPECT_TRUE(fails_naming(status_of(read_npz(kData + "bad_header.npz")),
                           {"bad_header.npz", "'x'", "bad .npy header", "shape must be a tuple"}));
}

TEST(NpzTest, UnsupportedDtypeIsNamed) {
  EXPECT_TRUE(fails_naming(status_of(read_npz(kData + "complex.npz")),
                           {"complex.npz", "'z'", "unsupported dtype '<c8'", "b1 (bool)"}));
}

TEST(NpzTest, NumpysOtherDtypesAndOrders) {
  auto big = read_npz(kData + "big_endian.npz");
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ((*big)[0].second.at<float>({1, 2, 3}), 23 * 0.5f - 3.0f);
  auto fortran = read_npz(kData + "fortran_order.npz");
  ASSERT_TRUE(fortran.ok()) << fortran.status();
  EXPECT_EQ((*fortran)[0].second.shape(), Shape({3, 4}));
  EXPECT_EQ((*fortran)[0].second.at<float>({2, 1}), 9 * 0.5f - 3.0f);
  auto int32 = read_npz(kData + "int32.npz");
  ASSERT_TRUE(int32.ok()) << int32.status();
  EXPECT_EQ((*int32)[0].second.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3}));
}

// make_npy_fixtures.py's zoo_values, per dtype.
template <typename T>
std::vector<int64_t> integer_zoo() {
  const int64_t max = static_cast<int64_t>(std::min<uint64_t>(
      std::numeric_limits<T>::max(), std::numeric_limits<int64_t>::max()));
  return {0, 1, std::numeric_limits<T>::min(), max, max < 258 ? 100 : 258};
}

TEST(NpzTest, EveryDtypeInBothByteOrders) {
  auto reader = NpzReader::open(kData + "dtypes.npz");
  ASSERT_TRUE(reader.ok()) << reader.status();
  const std::vector<std::pair<std::string, std::vector<int64_t>>> integers = {
      {"i1", integer_zoo<int8_t>()},   {"u2", integer_zoo<uint16_t>()},
      {"i2", integer_zoo<int16_t>()},  {"u4", integer_zoo<uint32_t>()},
      {"i4", integer_zoo<int32_t>()},  {"u8", integer_zoo<uint64_t>()},
      {"i8", integer_zoo<int64_t>()}};
  const std::vector<double> floats = {0.0, 1.5, -2.25, 10000.0, 1.0 / 1024};
  for (const std::string order : {"le_", "be_"}) {
    for (const auto& [code, expected] : integers) {
      const std::string key = (code == "i1" ? "" : order) + code;
      auto array = (*reader)->read(key);
      ASSERT_TRUE(array.ok()) << array.status();
      EXPECT_EQ(array->dtype(), DType::kInt64) << key;
      EXPECT_EQ(array->to_vector<int64_t>(), expected) << key;
    }
    for (const std::string code : {"f2", "f4", "f8"}) {
      auto array = (*reader)->read(order + code, DType::kFloat64);
      ASSERT_TRUE(array.ok()) << array.status();
      EXPECT_EQ(array->to_vector<double>(), floats) << order + code;
    }
  }
  auto f2 = (*reader)->read("be_f2");
  ASSERT_TRUE(f2.ok()) << f2.status();
  EXPECT_EQ(f2->dtype(), DType::kFloat16);
  auto u1 = (*reader)->read("u1");
  ASSERT_TRUE(u1.ok()) << u1.status();
  EXPECT_EQ(u1->to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 0, 255, 100}));
  auto b1 = (*reader)->read("b1");
  ASSERT_TRUE(b1.ok()) << b1.status();
  EXPECT_EQ(b1->to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 1, 0, 1}));
  EXPECT_TRUE(fails_naming(status_of((*reader)->read("le_i4", DType::kFloat32)),
                           {"dtypes.npz", "'le_i4'", "'<i4'", "float32"}));
  EXPECT_TRUE(fails_naming(status_of((*reader)->read("be_f8", DType::kFloat32)),
                           {"dtypes.npz", "'be_f8'", "'>f8'", "float32"}));
  // Bytes convert where their values do: bools to a float, but not signed bytes to uint8.
  auto bools = (*reader)->read("b1", DType::kFloat32);
  ASSERT_TRUE(bools.ok()) << bools.status();
  EXPECT_EQ(bools->to_vector<float>(), (std::vector<float>{0, 1, 1, 0, 1}));
  EXPECT_TRUE(fails_naming(status_of((*reader)->read("i1", DType::kUInt8)),
                           {"dtypes.npz", "'i1'", "'|i1'", "uint8"}));
}

}  // namespace
}  // namespace bitgrad
