// Single .npy files: read_npy against numpy-written fixtures (testdata/make_npy_fixtures.py) and
// write_npy against numpy's bytes.
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "models/npz.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::fails_naming;

const std::string kDir = "tests/models/testdata/";

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
  EXPECT_TRUE(fails_naming(read_npy(kDir + "fortran.npy").status(),
                           {"fortran.npy", "fortran_order"}));
  EXPECT_TRUE(fails_naming(read_npy(kDir + "big_endian.npy").status(),
                           {"big_endian.npy", "unsupported dtype '>f4'"}));
  EXPECT_TRUE(fails_naming(read_npy(kDir + "sample_stored.npz").status(),
                           {"sample_stored.npz", "an .npz archive"}));
  EXPECT_TRUE(fails_naming(read_npy(kDir + "not_a_zip.npz").status(),
                           {"not_a_zip.npz", "magic"}));
}

}  // namespace
}  // namespace bitgrad
