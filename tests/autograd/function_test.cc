// apply_list(): an op over a list of inputs whose length is known at run time
// (autograd/function.h).
#include "autograd/function.h"

#include <vector>

#include "autograd/engine.h"
#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::all_close;

// y = sum over i of (i + 1) * inputs[i], inputs of one shape; records which gradients backward
// was asked for.
struct WeightedSum {
  static constexpr const char* kName = "weighted_sum";
  std::vector<bool>* asked;

  Tensor forward(const std::vector<Tensor>& inputs) {
    Tensor y = zeros_like(inputs[0]);
    for (size_t i = 0; i < inputs.size(); ++i) y = y + inputs[i] * static_cast<double>(i + 1);
    return y;
  }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>& needs_grad) {
    *asked = needs_grad;
    std::vector<Tensor> grads(needs_grad.size());
    for (size_t i = 0; i < grads.size(); ++i) {
      if (needs_grad[i]) grads[i] = dy * static_cast<double>(i + 1);
    }
    return grads;
  }
};

Tensor vector_of(std::vector<double> values, bool requires_grad) {
  Tensor t = from_vector<double>(values, {static_cast<int64_t>(values.size())});
  return t.set_requires_grad(requires_grad);
}

TEST(FunctionTest, ApplyTakesAListOfInputs) {
  Tensor a = vector_of({1, 2}, true), b = vector_of({3, 4}, false), c = vector_of({5, 6}, true);
  std::vector<bool> asked;
  std::vector<Tensor> inputs = {a, b, c};  // non-const: std::apply would win an overload of apply
  Tensor y = apply_list(WeightedSum{&asked}, inputs);
  EXPECT_TRUE(all_close(y, from_vector<double>({22, 28}, {2})));  // a + 2b + 3c
  ASSERT_NE(y.grad_fn(), nullptr);
  EXPECT_STREQ(y.grad_fn()->name(), "weighted_sum");
  EXPECT_EQ(y.grad_fn()->inputs().size(), 3u);

  sum(y).backward();
  EXPECT_EQ(asked, std::vector<bool>({true, false, true}));
  EXPECT_TRUE(all_close(a.grad(), from_vector<double>({1, 1}, {2})));
  EXPECT_FALSE(b.grad().defined());
  EXPECT_TRUE(all_close(c.grad(), from_vector<double>({3, 3}, {2})));
}

TEST(FunctionTest, AListOfInputsNeedingNoGradientRecordsNothing) {
  std::vector<bool> asked;
  Tensor y = apply_list(WeightedSum{&asked},
                        std::vector<Tensor>{vector_of({1}, false), vector_of({2}, false)});
  EXPECT_TRUE(all_close(y, from_vector<double>({5}, {1})));
  EXPECT_EQ(y.grad_fn(), nullptr);
  EXPECT_FALSE(y.requires_grad());
}

}  // namespace
}  // namespace bitgrad
