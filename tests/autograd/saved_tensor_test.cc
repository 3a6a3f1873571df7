// The version counter: in-place writes are counted per memory, and backward refuses a saved
// tensor whose memory was written in place after the forward pass (autograd/saved_tensor.h).
#include "autograd/saved_tensor.h"

#include <vector>

#include "autograd/engine.h"
#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "optim/sgd.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::throws_error;

const char kChanged[] = "saved for backward was changed in place after the forward pass";

TEST(SavedTensorTest, InPlaceWritesCountPerMemoryAndViewsShareTheCount) {
  Tensor t = zeros({2, 3});
  EXPECT_EQ(t.version(), 0u);
  t.fill_(1.0);
  t.zero_();
  t.copy_(ones({2, 3}));
  EXPECT_EQ(t.version(), 3u);
  t.view({6}).fill_(2.0);                // a view writes the same memory
  EXPECT_EQ(t.version(), 4u);
  EXPECT_EQ(t.detach().version(), 4u);   // so does a detached handle
  EXPECT_EQ(t.clone().version(), 0u);    // a copy is memory of its own
  t.mutable_data<float>()[0] = 5.0f;     // raw writes are not counted (as PyTorch's .data)
  EXPECT_EQ(t.version(), 4u);
}

TEST(SavedTensorTest, AnOptimizerStepBeforeBackwardIsAnErrorNamingTheOp) {
  // The mistake the counter exists for: stepping between forward and backward would compute
  // the input's gradient from the *updated* weight.
  Tensor x = randn({1, 2, 3, 3}).set_requires_grad();
  Tensor w = randn({4, 2, 1, 1}).set_requires_grad();
  Tensor loss = sum(conv2d(x, w));
  Sgd sgd({{"w", w}}, SgdOptions{.lr = 0.1});
  w.set_grad(ones_like(w));
  sgd.step();
  EXPECT_EQ(w.version(), 1u);
  EXPECT_TRUE(throws_error([&] { loss.backward(); },
                           {"conv2d: a tensor of shape (4, 2, 1, 1) ", kChanged,
                            "at version 1 but was saved at version 0", "clone()"}));
}

TEST(SavedTensorTest, ASavedTensorNoGradientNeedsIsNotChecked) {
  // Only the weight needs a gradient, and dw reads x and dy alone: stepping w changes nothing
  // backward uses.
  Tensor x = randn({1, 2, 3, 3});
  Tensor w = randn({4, 2, 1, 1}).set_requires_grad();
  Tensor loss = sum(conv2d(x, w));
  w.copy_(randn({4, 2, 1, 1}));
  loss.backward();
  const Tensor per_channel = sum(x, {0, 2, 3});  // dw[o, c] = the sum of x's channel c
  for (int64_t o = 0; o < 4; ++o) {
    for (int64_t c = 0; c < 2; ++c) {
      EXPECT_NEAR(w.grad().at<float>({o, c, 0, 0}), per_channel.at<float>({c}), 1e-4);
    }
  }
}

TEST(SavedTensorTest, TheErrorHasItsOwnTypeAndNamesAnOutputChangedInPlace) {
  Tensor x = from_vector<double>({-1, 2, 3}, {3}).set_requires_grad();
  Tensor y = relu(x);  // relu saves its output
  y.fill_(7.0);
  try {
    sum(y).backward();
    ADD_FAILURE() << "backward through a changed output did not throw";
  } catch (const SavedTensorChangedError& error) {
    EXPECT_NE(std::string(error.what()).find(std::string("relu: a tensor of shape (3) ") +
                                             kChanged),
              std::string::npos)
        << error.what();
  }
}

TEST(SavedTensorTest, AWriteThroughAViewIsSeen) {
  Tensor a = from_vector<double>({1, 2, 3, 4}, {4}).set_requires_grad();
  Tensor b = from_vector<double>({5, 6, 7, 8}, {4});
  Tensor loss = sum(a * b);  // mul saves both inputs
  b.view({2, 2}).zero_();
  EXPECT_TRUE(throws_error([&] { loss.backward(); }, {"mul: ", kChanged}));
}

TEST(SavedTensorTest, AnInputTheOpDoesNotSaveMayChange) {
  // add's gradient does not depend on its inputs, so it keeps none (as in PyTorch).
  Tensor a = from_vector<double>({1, 2, 3}, {3}).set_requires_grad();
  Tensor b = from_vector<double>({4, 5, 6}, {3});
  Tensor loss = sum(a + b);
  b.fill_(100.0);
  loss.backward();
  EXPECT_TRUE(all_close(a.grad(), from_vector<double>({1, 1, 1}, {3})));
}

TEST(SavedTensorTest, ASecondBackwardSeesAChangeMadeAfterTheFirst) {
  Tensor a = from_vector<double>({1, 2, 3}, {3}).set_requires_grad();
  Tensor b = from_vector<double>({4, 5, 6}, {3});
  Tensor loss = sum(a * b);
  loss.backward(Tensor(), /*retain_graph=*/true);
  EXPECT_TRUE(all_close(a.grad(), b));
  b.copy_(from_vector<double>({0, 0, 1}, {3}));
  EXPECT_TRUE(throws_error([&] { loss.backward(); }, {"mul: ", kChanged}));
}

TEST(SavedTensorTest, SetDataAfterForwardLeavesBackwardWithWhatForwardSaw) {
  // set_data gives the tensor new memory (Module::to does it); the saved handle keeps the old.
  Tensor a = from_vector<double>({1, 2, 3}, {3}).set_requires_grad();
  Tensor b = from_vector<double>({4, 5, 6}, {3}).set_requires_grad();
  Tensor loss = sum(a * b);
  b.set_data(from_vector<double>({7, 8, 9}, {3}));
  loss.backward();
  EXPECT_TRUE(all_close(a.grad(), from_vector<double>({4, 5, 6}, {3})));
  EXPECT_TRUE(all_close(b.grad(), from_vector<double>({1, 2, 3}, {3})));
}

TEST(SavedTensorTest, SetDataOfAnotherDtypeOrShapeAfterForwardIsRefusedInBackward) {
  // Module::to(DType) between forward and backward: the gradient computed for the float64
  // leaf would not fit the float32 data it holds now.
  Tensor a = from_vector<double>({1, 2, 3}, {3}).set_requires_grad();
  Tensor b = from_vector<double>({4, 5, 6}, {3}).set_requires_grad();
  Tensor loss = sum(a * b);
  b.set_data(b.detach().to(DType::kFloat32));
  EXPECT_TRUE(throws_error([&] { backward(loss, Tensor(), {.retain_graph = true}); },
                           {"backward: a leaf tensor, now of shape (3), dtype float32 on cpu",
                            "Module::to", "for shape (3), dtype float64 on cpu"}));
  EXPECT_FALSE(b.grad().defined());
  b.set_data(from_vector<double>({7, 8, 9, 10}, {4}));
  EXPECT_TRUE(throws_error([&] { loss.backward(); }, {"now of shape (4)", "for shape (3)"}));
  EXPECT_FALSE(b.grad().defined());
}

TEST(SavedTensorTest, AnUndefinedTensorSavesNothing) {
  SavedTensor saved;
  EXPECT_FALSE(saved.defined());
  saved = Tensor();
  EXPECT_FALSE(saved.get().defined());
  Tensor t = ones({2});
  saved = t;
  t.zero_();
  EXPECT_EQ(saved.shape(), Shape({2}));  // values changed, the shape cannot: not checked
  EXPECT_TRUE(throws_error([&] { saved.get(); }, {"shape (2)", kChanged}));
}

}  // namespace
}  // namespace bitgrad
