#include "tests/testing/assertions.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

namespace bitgrad::testing {

::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double rtol,
                                     double atol) {
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure() << "shape " << actual.shape() << " != expected "
                                         << expected.shape();
  }
  std::vector<double> a = actual.to_vector<double>();
  std::vector<double> e = expected.to_vector<double>();
  std::ostringstream report;
  int64_t mismatches = 0;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double error = std::fabs(a[i] - e[i]);
    bool bad = !(error <= atol + rtol * std::fabs(e[i]));  // NaN counts as bad
    if (!bad) continue;
    worst = std::isnan(error) ? error : std::max(worst, error);
    if (++mismatches <= 5) report << "\n  element " << i << ": " << a[i] << " vs expected " << e[i];
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << mismatches << " of " << a.size()
                                       << " elements differ (worst |error| " << worst
                                       << ", rtol " << rtol << ", atol " << atol << ")"
                                       << report.str();
}

::testing::AssertionResult throws_error(const std::function<void()>& statement,
                                        const std::vector<std::string>& fragments) {
  try {
    statement();
  } catch (const Error& error) {
    std::string message = error.what();
    for (const std::string& fragment : fragments) {
      if (message.find(fragment) == std::string::npos) {
        return ::testing::AssertionFailure() << "the error message lacks \"" << fragment
                                             << "\": " << message;
      }
    }
    return ::testing::AssertionSuccess() << message;
  } catch (const std::exception& other) {
    return ::testing::AssertionFailure() << "threw a non-bitgrad exception: " << other.what();
  }
  return ::testing::AssertionFailure() << "no error was thrown";
}

::testing::AssertionResult fails_naming(const absl::Status& status,
                                        const std::vector<std::string>& fragments) {
  if (status.ok()) return ::testing::AssertionFailure() << "expected an error, got OK";
  const std::string message(status.message());
  for (const std::string& fragment : fragments) {
    if (message.find(fragment) == std::string::npos) {
      return ::testing::AssertionFailure() << "message \"" << message << "\" lacks \"" << fragment
                                           << "\"";
    }
  }
  return ::testing::AssertionSuccess();
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const Tensor pa = a.to_plain(), pb = b.to_plain();
  return std::memcmp(pa.raw_data(), pb.raw_data(), pa.nbytes()) == 0;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

::testing::AssertionResult close_relative(const Tensor& actual, const Tensor& expected,
                                          double tolerance) {
  return all_close(actual, expected, tolerance, tolerance * std::max(max_abs(expected), 1e-30));
}

}  // namespace bitgrad::testing
