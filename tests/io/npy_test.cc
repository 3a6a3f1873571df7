// Single .npy files: read_npy against numpy-written fixtures (testdata/make_npy_fixtures.py) and
// write_npy against numpy's bytes.
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "io/file_limits.h"
#include "io/npy.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::fails_naming;

const std::string kDir = "tests/io/testdata/";

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// make_npy_fixtures.py: arange(24).reshape(2, 3, 2, 2) * 0.25 - 2.
std::vector<float> batch_values() {
  std::vector<float> values;
  for (int i = 0; i < 24; ++i) values.push_back(static_cast<float>(i) * 0.25f - 2.0f);
  return values;
}

TEST(NpyTest, ReadsNumpysFloat32Batch) {
  auto tensor = read_npy(kDir + "batch_f32.npy");
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  EXPECT_EQ(tensor->dtype(), DType::kFloat32);
  EXPECT_EQ(tensor->shape(), Shape({2, 3, 2, 2}));
  EXPECT_EQ(tensor->to_vector<float>(), batch_values());
}

TEST(NpyTest, ReadsFormatVersion2) {
  auto tensor = read_npy(kDir + "v2_f64.npy");
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  EXPECT_EQ(tensor->dtype(), DType::kFloat64);
  EXPECT_EQ(tensor->to_vector<double>(), (std::vector<double>{1.0 / 3.0, -2.5, 1e-300}));
}

std::string npy_with_dict(const std::string& dict, int major = 1);

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> values(n);
  for (int64_t i = 0; i < n; ++i) values[i] = i;
  return values;
}

TEST(NpyTest, ReadsFortranOrderInCOrder) {
  auto two = read_npy(kDir + "fortran_2d.npy");
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->shape(), Shape({2, 3}));
  EXPECT_EQ(two->to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5}));

  auto three = read_npy(kDir + "fortran_3d.npy");  // also big-endian int16
  ASSERT_TRUE(three.ok()) << three.status();
  EXPECT_EQ(three->shape(), Shape({2, 3, 4}));
  EXPECT_EQ(three->dtype(), DType::kInt64);
  EXPECT_EQ(three->to_vector<int64_t>(), iota(24));

  auto four = read_npy(kDir + "fortran_4d.npy");
  ASSERT_TRUE(four.ok()) << four.status();
  EXPECT_EQ(four->shape(), Shape({2, 3, 4, 5}));
  EXPECT_EQ(four->dtype(), DType::kUInt8);
  EXPECT_EQ(four->at<uint8_t>({1, 2, 3, 4}), 119);
  EXPECT_EQ(four->at<uint8_t>({0, 1, 0, 2}), 22);

  auto square = read_npy(kDir + "fortran.npy");  // batch[0, 0]
  ASSERT_TRUE(square.ok()) << square.status();
  const std::vector<float> batch = batch_values();
  EXPECT_EQ(square->to_vector<float>(), std::vector<float>(batch.begin(), batch.begin() + 4));
}

TEST(NpyTest, ReadsBigEndian) {
  auto tensor = read_npy(kDir + "big_endian.npy");
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  EXPECT_EQ(tensor->dtype(), DType::kFloat32);
  EXPECT_EQ(tensor->to_vector<float>(), batch_values());
}

TEST(NpyTest, ConvertsToTheAskedDtypeOnlyWhenExact) {
  auto as_float = read_npy(kDir + "fortran_3d.npy", DType::kFloat32);  // '>i2'
  ASSERT_TRUE(as_float.ok()) << as_float.status();
  EXPECT_EQ(as_float->dtype(), DType::kFloat32);
  EXPECT_EQ(as_float->at<float>({1, 2, 3}), 23.0f);
  EXPECT_TRUE(fails_naming(read_npy(kDir + "fortran_3d.npy", DType::kFloat16).status(),
                           {"fortran_3d.npy", "'>i2'", "float16", "exactly"}));
  EXPECT_TRUE(fails_naming(read_npy(kDir + "batch_f32.npy", DType::kInt64).status(),
                           {"batch_f32.npy", "'<f4'", "int64"}));
  EXPECT_TRUE(fails_naming(read_npy(kDir + "fortran_3d.npy", DType::kUInt8).status(),
                           {"fortran_3d.npy", "'>i2'", "uint8"}));
  auto wide = read_npy(kDir + "batch_f32.npy", DType::kFloat64);
  ASSERT_TRUE(wide.ok()) << wide.status();
  EXPECT_EQ(wide->at<double>({1, 2, 1, 1}), 23 * 0.25 - 2.0);
  auto bytes = read_npy(kDir + "fortran_4d.npy", DType::kInt64);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(bytes->to_vector<int64_t>(), iota(120));
}

// numpy reads any nonzero byte of a bool array as True; so does read_npy, as 1.
TEST(NpyTest, NonzeroBoolBytesReadAsOne) {
  const std::string path = ::testing::TempDir() + "/bools.npy";
  std::ofstream(path, std::ios::binary)
      << npy_with_dict("{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }\n")
      << std::string("\x00\x01\x02\xff", 4);
  auto bools = read_npy(path);
  ASSERT_TRUE(bools.ok()) << bools.status();
  EXPECT_EQ(bools->dtype(), DType::kUInt8);
  EXPECT_EQ(bools->to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 1, 1}));
}

TEST(NpyTest, DeclaredSizesAreCheckedBeforeAllocating) {
  const std::string path = ::testing::TempDir() + "/huge.npy";
  std::ofstream(path, std::ios::binary)
      << npy_with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }\n")
      << std::string(1000, 'x');
  EXPECT_TRUE(fails_naming(read_npy(path).status(),
                           {"huge.npy", "truncated", "needs 4000000000000 bytes"}));
  const uint64_t saved = max_file_tensor_bytes();
  set_max_file_tensor_bytes(64);
  EXPECT_TRUE(fails_naming(read_npy(kDir + "batch_f32.npy").status(),
                           {"batch_f32.npy", "96 bytes is over the limit of 64",
                            "BITGRAD_MAX_FILE_TENSOR_BYTES"}));
  set_max_file_tensor_bytes(saved);
  EXPECT_TRUE(read_npy(kDir + "batch_f32.npy").ok());
  std::string long_dict("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12);
  EXPECT_TRUE(fails_naming(parse_npy_header(long_dict, "f").status(), {"bytes of header dict"}));
}

// An empty array's other extents must multiply without overflow, as numpy requires; then no code
// that forms strides from them overflows (UBSan checks that in CI's sanitizer pass).
TEST(NpyTest, EmptyArraysWithHugeExtents) {
  const std::string path = ::testing::TempDir() + "/empty_fortran.npy";
  std::ofstream(path, std::ios::binary) << npy_with_dict(
      "{'descr': '<u1', 'fortran_order': True, 'shape': (1, 1048576, 1099511627776, 0, 7), }\n");
  auto empty_array = read_npy(path);
  ASSERT_TRUE(empty_array.ok()) << empty_array.status();
  EXPECT_EQ(empty_array->shape(), Shape({1, 1048576, 1099511627776, 0, 7}));
  EXPECT_EQ(empty_array->numel(), 0);
  std::ofstream(path, std::ios::binary) << npy_with_dict(
      "{'descr': '<u1', 'fortran_order': True, 'shape': (1, 34032441, 423424014231, 0, 7), }\n");
  EXPECT_TRUE(
      fails_naming(read_npy(path).status(),
                   {"empty_fortran.npy", "(1, 34032441, 423424014231, 0, 7)", "too large"}));
}

TEST(NpyTest, WritesTheBytesNumpyWrites) {
  const std::string path = ::testing::TempDir() + "/written.npy";
  ASSERT_TRUE(write_npy(path, from_vector(batch_values(), {2, 3, 2, 2})).ok());
  EXPECT_EQ(file_bytes(path), file_bytes(kDir + "batch_f32.npy"));
  auto back = read_npy(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->to_vector<float>(), batch_values());
}

TEST(NpyTest, RoundTripsOtherDtypesAndShapes) {
  const std::string path = ::testing::TempDir() + "/ints.npy";
  Tensor ints = from_vector<int64_t>({-(int64_t{1} << 40), 0, 7}, {3});
  ASSERT_TRUE(write_npy(path, ints).ok());
  auto back = read_npy(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->dtype(), DType::kInt64);
  EXPECT_EQ(back->to_vector<int64_t>(), ints.to_vector<int64_t>());

  ASSERT_TRUE(write_npy(path, zeros({0, 5})).ok());
  back = read_npy(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shape(), Shape({0, 5}));
}

TEST(NpyTest, WriteRefusesWhatNpyCannotHold) {
  const std::string path = ::testing::TempDir() + "/bf16.npy";
  EXPECT_TRUE(fails_naming(write_npy(path, zeros({2}, DType::kBFloat16)), {path, "bfloat16"}));
  EXPECT_TRUE(fails_naming(write_npy(path, Tensor()), {path, "undefined"}));
}

TEST(NpyTest, BadFiles) {
  const std::string missing = kDir + "no_such.npy";
  absl::StatusOr<Tensor> result = read_npy(missing);
  EXPECT_TRUE(absl::IsNotFound(result.status()));
  EXPECT_TRUE(fails_naming(result.status(), {missing, "no such file"}));

  EXPECT_TRUE(fails_naming(read_npy(kDir + "truncated.npy").status(),
                           {"truncated.npy", "truncated", "needs 96 bytes", "holds 92"}));
  EXPECT_TRUE(fails_naming(read_npy(kDir + "trailing.npy").status(),
                           {"trailing.npy", "3 unexpected bytes after the data"}));
  EXPECT_TRUE(fails_naming(read_npy(kDir + "header_cut.npy").status(),
                           {"header_cut.npy", "truncated .npy header"}));
  EXPECT_TRUE(fails_naming(read_npy(kDir + "complex.npy").status(),
                           {"complex.npy", "unsupported dtype '<c8'", "i4"}));
  EXPECT_TRUE(fails_naming(read_npy(kDir + "u8_too_big.npy").status(),
                           {"u8_too_big.npy", "18446744073709551615", "'<u8'", "element 1",
                            "does not fit int64"}));
  EXPECT_TRUE(fails_naming(read_npy(kDir + "sample_stored.npz").status(),
                           {"sample_stored.npz", "an .npz archive"}));
  EXPECT_TRUE(fails_naming(read_npy(kDir + "not_a_zip.npz").status(),
                           {"not_a_zip.npz", "magic"}));
}

// ------------------------------------------------------------------------------------------------
// The header parser on its own.

std::string npy_with_dict(const std::string& dict, int major) {
  std::string bytes("\x93NUMPY", 6);
  bytes += static_cast<char>(major);
  bytes += '\0';
  const size_t n = dict.size();
  bytes += static_cast<char>(n & 0xFF);
  bytes += static_cast<char>((n >> 8) & 0xFF);
  if (major > 1) bytes += std::string(2, '\0');
  return bytes + dict;
}

TEST(NpyHeaderTest, AcceptsPythonLiteralVariants) {
  const std::string dict_a =
      "{\"shape\": (3L, 4L), \"fortran_order\": False, \"descr\": \"<f8\"}  \n";
  auto a = parse_npy_header(npy_with_dict(dict_a), "t");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->dtype, DType::kFloat64);
  EXPECT_EQ(a->shape, Shape({3, 4}));
  EXPECT_EQ(a->data_offset, 10 + dict_a.size());  // version 1.0: 2-byte length

  const std::string dict_scalar = "{'descr': '|u1', 'fortran_order': False, 'shape': ()}\n";
  auto scalar = parse_npy_header(npy_with_dict(dict_scalar, 2), "t");
  ASSERT_TRUE(scalar.ok()) << scalar.status();
  EXPECT_EQ(scalar->shape, Shape({}));
  EXPECT_EQ(scalar->data_offset, 12 + dict_scalar.size());  // version 2.0: 4-byte length

  auto one = parse_npy_header(
      npy_with_dict("{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }\n"), "t");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->shape, Shape({5}));

  auto native = parse_npy_header(
      npy_with_dict("{'descr': '=u2', 'fortran_order': True, 'shape': (2, 3), }\n"), "t");
  ASSERT_TRUE(native.ok()) << native.status();
  EXPECT_EQ(native->element.descr(), "<u2");  // '=' is little-endian on every writer
  EXPECT_EQ(native->dtype, DType::kInt64);
  EXPECT_TRUE(native->fortran_order);
}

TEST(NpyHeaderTest, RejectsMalformedDicts) {
  auto bad = [](const std::string& dict, const std::string& fragment) {
    return fails_naming(parse_npy_header(npy_with_dict(dict), "file.npz: array 'k'").status(),
                        {"file.npz: array 'k'", fragment});
  };
  EXPECT_TRUE(bad("{'descr': '<f4', 'shape': (2,)}", "must have 'descr', 'fortran_order'"));
  EXPECT_TRUE(bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", "trailing comma"));
  EXPECT_TRUE(bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
                  "unexpected key 'x'"));
  EXPECT_TRUE(bad("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}",
                  "structured dtypes"));
  EXPECT_TRUE(bad("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}", "True or False"));
  EXPECT_TRUE(bad("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", "non-negative"));
  EXPECT_TRUE(bad("['descr']", "not a dict"));
  EXPECT_TRUE(bad("{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}",
                  "expected ':' after 'descr'"));
  EXPECT_TRUE(bad("{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}",
                  "expected ',' or '}' in the dict"));
  EXPECT_TRUE(bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x",
                  "unexpected text after the dict"));
  EXPECT_TRUE(bad("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
                  "a shape extent is too large"));
  for (const char* descr : {"<U3", "|O", "<c16", "<f16", "<i3", "|V8", "!f4", "<M8"}) {
    EXPECT_TRUE(bad(absl::StrCat("{'descr': '", descr, "', 'fortran_order': False, 'shape': (2,)}"),
                    absl::StrCat("unsupported dtype '", descr, "'")))
        << descr;
  }
  EXPECT_TRUE(fails_naming(parse_npy_header(std::string("\x93NUMPY\x04\x00", 8), "f").status(),
                           {"version 4.0"}));
  std::string minor_one = npy_with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': ()}");
  minor_one[7] = 1;
  EXPECT_TRUE(fails_naming(parse_npy_header(minor_one, "f").status(), {"version 1.1"}));
  EXPECT_TRUE(fails_naming(parse_npy_header(npy_with_dict("{'descr'").substr(0, 12), "f").status(),
                           {"truncated .npy header"}));
}

}  // namespace
}  // namespace bitgrad
