#include "tests/golden/golden.h"

#include <algorithm>
#include <cmath>

#include "io/npz.h"
#include "ops/linear.h"
#include "ops/reshape.h"
#include "tests/testing/assertions.h"

namespace bitgrad::golden {

Fixture::Fixture(const std::string& path) : path_(path) {
  absl::StatusOr<NamedArrays> arrays = read_npz(path);
  if (!arrays.ok()) {
    ADD_FAILURE() << "cannot read the fixture: " << arrays.status();
    return;
  }
  for (auto& [key, tensor] : *arrays) arrays_[key] = tensor;
}

Tensor Fixture::operator[](const std::string& key) const {
  auto found = arrays_.find(key);
  if (found == arrays_.end()) {
    ADD_FAILURE() << path_ << " has no array '" << key << "'";
    return Tensor();
  }
  return found->second;
}

Tensor Fixture::integers(const std::string& key) const {
  std::vector<int64_t> values = ints(key);
  const Tensor array = (*this)[key];
  return from_vector(values, array.defined() ? array.shape() : Shape{0});
}

std::vector<int64_t> Fixture::ints(const std::string& key) const {
  const Tensor array = (*this)[key];
  std::vector<int64_t> values;
  if (!array.defined()) return values;
  for (double v : array.to_vector<double>()) values.push_back(static_cast<int64_t>(std::lround(v)));
  return values;
}

double Fixture::scalar(const std::string& key) const {
  const Tensor array = (*this)[key];
  return array.defined() ? array.to_vector<double>().at(0) : NAN;
}

::testing::AssertionResult close(const Tensor& actual, const Tensor& expected, double tol) {
  if (!actual.defined() || !expected.defined()) {
    return ::testing::AssertionFailure() << "undefined tensor";
  }
  double scale = 0;
  for (double v : expected.to_vector<double>()) scale = std::max(scale, std::fabs(v));
  ::testing::AssertionResult result = testing::all_close(actual, expected, tol, tol * scale);
  if (result) return result;
  // The tolerance that would have passed, to judge the margin.
  const std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
  double needed = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    needed = std::max(needed, std::fabs(a[i] - e[i]) / (std::fabs(e[i]) + scale));
  }
  return result << "\n  (the comparison needs tol >= " << needed << ", has " << tol << ")";
}

Tensor mixup_targets(const std::vector<int64_t>& labels, const std::vector<int64_t>& perm,
                     double lam, int64_t num_classes) {
  const int64_t n = static_cast<int64_t>(labels.size());
  Tensor target = zeros({n, num_classes});
  for (int64_t i = 0; i < n; ++i) {
    target.at<float>({i, labels[i]}) += static_cast<float>(lam);
    target.at<float>({i, labels[perm[i]]}) += static_cast<float>(1 - lam);
  }
  return target;
}

Tensor mixup_inputs(const Tensor& x, const std::vector<int64_t>& perm, double lam) {
  const int64_t n = x.size(0);
  Tensor blend = zeros({n, n}, x.dtype());
  for (int64_t i = 0; i < n; ++i) {
    blend.at<float>({i, i}) += static_cast<float>(lam);
    blend.at<float>({i, perm[i]}) += static_cast<float>(1 - lam);
  }
  std::vector<int64_t> shape(x.shape().begin(), x.shape().end());
  return reshape(matmul(blend, reshape(x, {n, x.numel() / n})), shape);
}

std::string kernels_name(const ::testing::TestParamInfo<Kernels>& info) {
  return info.param == Kernels::kRef ? "ref" : "default";
}

void PrintTo(Kernels kernels, std::ostream* out) {
  *out << (kernels == Kernels::kRef ? "reference kernels (BackendOverride(kRef))"
                                    : "default kernels");
}

void GoldenTest::SetUp() {
  if (GetParam() == Kernels::kRef) override_ = std::make_unique<BackendOverride>(Backend::kRef);
}

}  // namespace bitgrad::golden
