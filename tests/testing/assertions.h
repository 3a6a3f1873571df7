// Test assertions for tensors and errors.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "gtest/gtest.h"

namespace bitgrad::testing {

// |actual - expected| <= atol + rtol * |expected| elementwise, same shape; reports the worst
// elements on failure.
::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected,
                                     double rtol = 1e-5, double atol = 1e-6);

// Runs `statement` and expects a bitgrad::Error whose message contains every fragment.
::testing::AssertionResult throws_error(const std::function<void()>& statement,
                                        const std::vector<std::string>& fragments);

}  // namespace bitgrad::testing
