// Helpers for the golden tests: the PyTorch fixtures of tools/golden (format: its README.md), and
// a test parameter that runs every case twice, on the default kernels (whatever //:bitgrad links)
// and with BackendOverride(Backend::kRef), so both the fast and the reference kernels are held to
// PyTorch.
#pragma once

#include <map>
#include <ostream>
#include <memory>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "gtest/gtest.h"

namespace bitgrad::golden {

// The arrays of one fixture file, by key. A missing key fails the test (and returns an undefined
// tensor) naming the file and the key.
class Fixture {
 public:
  explicit Fixture(const std::string& path);
  Tensor operator[](const std::string& key) const;
  bool has(const std::string& key) const { return arrays_.count(key) != 0; }
  // A float32 array of exact integers, as int64 (labels, permutations).
  Tensor integers(const std::string& key) const;
  // A float32 (k,) array of exact integers, as a vector.
  std::vector<int64_t> ints(const std::string& key) const;
  double scalar(const std::string& key) const;

 private:
  std::string path_;
  std::map<std::string, Tensor> arrays_;
};

// |actual - expected| <= tol * (|expected| + max |expected|) elementwise: relative to each
// element, with the tensor's own scale as the floor, so tiny entries of a large gradient do not
// demand more precision than float32 can give.
::testing::AssertionResult close(const Tensor& actual, const Tensor& expected, double tol);

// Mixup as tools/golden builds it. Targets: lam * onehot(labels) + (1 - lam) *
// onehot(labels[perm]), float32 (N, K). Inputs: lam * x + (1 - lam) * x[perm] over the batch,
// written as M x with M = lam * I + (1 - lam) * P, P[i][perm[i]] = 1 (differentiable in x).
Tensor mixup_targets(const std::vector<int64_t>& labels, const std::vector<int64_t>& perm,
                     double lam, int64_t num_classes);
Tensor mixup_inputs(const Tensor& x, const std::vector<int64_t>& perm, double lam);

enum class Kernels { kDefault, kRef };
std::string kernels_name(const ::testing::TestParamInfo<Kernels>& info);
void PrintTo(Kernels kernels, std::ostream* out);  // for gtest messages

// Base of the parameterised golden tests: forces the reference kernels for Kernels::kRef.
class GoldenTest : public ::testing::TestWithParam<Kernels> {
 protected:
  void SetUp() override;
  void TearDown() override { override_.reset(); }

 private:
  std::unique_ptr<BackendOverride> override_;
};

#define BG_GOLDEN_INSTANTIATE(Suite)                                                        \
  INSTANTIATE_TEST_SUITE_P(Kernels, Suite,                                                  \
                           ::testing::Values(::bitgrad::golden::Kernels::kDefault,          \
                                             ::bitgrad::golden::Kernels::kRef),             \
                           ::bitgrad::golden::kernels_name)

}  // namespace bitgrad::golden
