// Test assertions for tensors and errors.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/tensor.h"
#include "gtest/gtest.h"

namespace bitgrad::testing {

// |actual - expected| <= atol + rtol * |expected| elementwise, same shape; reports the worst
// elements on failure.
::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected,
                                     double rtol = 1e-5, double atol = 1e-6);

// Same dtype, shape and bytes (compared in plain layout): what a rerun must reproduce exactly.
bool same_bits(const Tensor& a, const Tensor& b);

// The largest |value| of t (0 for an empty tensor).
double max_abs(const Tensor& t);

// all_close with an absolute slack of `tolerance` times the expected tensor's largest value, so
// sums over many terms and small entries are judged on the tensor's own scale.
::testing::AssertionResult close_relative(const Tensor& actual, const Tensor& expected,
                                          double tolerance);

// Expects a failed status whose message contains every fragment (a file, key, flag or shape).
::testing::AssertionResult fails_naming(const absl::Status& status,
                                        const std::vector<std::string>& fragments);

// Runs `statement` and expects a bitgrad::Error whose message contains every fragment.
::testing::AssertionResult throws_error(const std::function<void()>& statement,
                                        const std::vector<std::string>& fragments);

}  // namespace bitgrad::testing
