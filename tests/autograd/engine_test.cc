#include "autograd/engine.h"

#include <map>
#include <string>
#include <vector>

#include "autograd/function.h"
#include "autograd/node.h"
#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::throws_error;

Tensor leaf(std::vector<double> values) {
  return from_vector<double>(values, {static_cast<int64_t>(values.size())}).set_requires_grad();
}

TEST(EngineTest, ChainRuleThroughADiamond) {
  // y = sum((a * b) + a): dy/da = b + 1, dy/db = a. `a` is used twice.
  Tensor a = leaf({1, 2, 3});
  Tensor b = leaf({4, 5, 6});
  Tensor y = sum(a * b + a);
  y.backward();
  EXPECT_TRUE(all_close(a.grad(), from_vector<double>({5, 6, 7}, {3})));
  EXPECT_TRUE(all_close(b.grad(), from_vector<double>({1, 2, 3}, {3})));
}

// y = 2x, whose backward adds the gradient x already has (Node::backward's `partial`) into its
// own, as GroupNorm's does, and counts how often it did.
struct DoubleFoldingPartial {
  static constexpr const char* kName = "double_folding_partial";
  int* folds;
  Tensor forward(const Tensor& x) { return call<AffineFwd>(x, 2.0, 0.0); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&,
                               const std::vector<Tensor>& partial, std::vector<bool>& folded) {
    Tensor dx = call<AffineFwd>(dy, 2.0, 0.0);
    if (partial[0].defined()) {
      dx = call<BinaryFwd>(dx, partial[0], BinaryOp::kAdd);
      folded[0] = true;
      ++*folds;
    }
    return {dx};
  }
};

TEST(EngineTest, ABackwardMayFoldInTheGradientItsInputAlreadyHas) {
  // h = 3a feeds the residual add first (in backward order) and the folding op second:
  // y = sum(2h + h), dy/da = 3 * (2 + 1). The add's gradient for h reaches the folding op as
  // `partial`, and the engine keeps the folded sum instead of adding it again.
  Tensor a = leaf({1, 2});
  Tensor h = a * 3.0;
  int folds = 0;
  Tensor y = sum(apply(DoubleFoldingPartial{&folds}, h) + h);
  y.backward();
  EXPECT_EQ(folds, 1);
  EXPECT_TRUE(all_close(a.grad(), from_vector<double>({9, 9}, {2})));
}

// z = 2x + 2y, whose backward folds in each input's partial gradient that it is offered.
struct TwoInputsFoldingPartials {
  static constexpr const char* kName = "two_inputs_folding_partials";
  int* folds;
  Tensor forward(const Tensor& x, const Tensor& y) {
    return call<BinaryFwd>(call<AffineFwd>(x, 2.0, 0.0), call<AffineFwd>(y, 2.0, 0.0),
                           BinaryOp::kAdd);
  }
  std::vector<Tensor> backward(const Tensor& dz, const std::vector<bool>&,
                               const std::vector<Tensor>& partial, std::vector<bool>& folded) {
    std::vector<Tensor> grads;
    for (size_t i = 0; i < 2; ++i) {
      grads.push_back(call<AffineFwd>(dz, 2.0, 0.0));
      if (!partial[i].defined()) continue;
      grads[i] = call<BinaryFwd>(grads[i], partial[i], BinaryOp::kAdd);
      folded[i] = true;
      ++*folds;
    }
    return grads;
  }
};

TEST(EngineTest, APartialIsOfferedOnceToAnOpThatTakesOneTensorTwice) {
  // y = sum(2h + 2h + h) with h = 3a: dy/da = 3 * 5. Were h's partial from the add offered to
  // both inputs, it would be folded in twice and the second fold would drop the first gradient.
  Tensor a = leaf({1, 2});
  Tensor h = a * 3.0;
  int folds = 0;
  Tensor y = sum(apply(TwoInputsFoldingPartials{&folds}, h, h) + h);
  y.backward();
  EXPECT_EQ(folds, 1);
  EXPECT_TRUE(all_close(a.grad(), from_vector<double>({15, 15}, {2})));
}

// A backward that claims to have folded in a partial gradient it was not given.
struct FoldsWithoutAPartial {
  static constexpr const char* kName = "folds_without_a_partial";
  Tensor forward(const Tensor& x) { return x.clone(); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&,
                               const std::vector<Tensor>&, std::vector<bool>& folded) {
    folded[0] = true;
    return {dy};
  }
};

TEST(EngineTest, FoldingAPartialThatWasNotGivenIsRefused) {
  Tensor h = leaf({1, 2}) * 3.0;
  Tensor y = sum(apply(FoldsWithoutAPartial{}, h));
  EXPECT_TRUE(throws_error([&] { y.backward(); },
                           {"backward of folds_without_a_partial folded a partial gradient into "
                            "input 0, which had none"}));
}

TEST(EngineTest, GradientsAccumulateAcrossBackwardCalls) {
  Tensor a = leaf({1, 2});
  sum(a * 3.0).backward();
  sum(a * 3.0).backward();
  EXPECT_TRUE(all_close(a.grad(), from_vector<double>({6, 6}, {2})));
}

TEST(EngineTest, LeafGradientsDoNotAliasEachOther) {
  Tensor a = leaf({1, 2});
  Tensor b = leaf({3, 4});
  sum(a + b).backward();
  a.grad().fill_(0.0);  // in-place on one leaf's grad must not touch the other's
  EXPECT_TRUE(all_close(b.grad(), from_vector<double>({1, 1}, {2})));
}

TEST(EngineTest, NoGradGuardRecordsNothing) {
  Tensor a = leaf({1, 2});
  Tensor y;
  {
    NoGradGuard no_grad;
    y = a * 2.0;
  }
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(throws_error([&] { y.backward(); }, {"does not require grad"}));
}

// Tensor::clone() is a copy outside the graph: the error says so rather than blaming the leaf,
// and names the recorded bitgrad::clone().
TEST(EngineTest, APathOnlyThroughCloneNamesIt) {
  Tensor a = leaf({1, 2});
  Tensor y = a.clone() * 2.0;
  EXPECT_TRUE(throws_error([&] { y.backward(); },
                          {"does not require grad", "Tensor::clone()", "bitgrad::clone()"}));
}

// An op whose backward returns a gradient unlike its input: the engine refuses it, naming the op
// and both, before anything adds it up.
struct WrongGradient {
  static constexpr const char* kName = "wrong_gradient";
  Shape shape;
  DType dtype;
  Tensor forward(const Tensor& x) { return x.clone(); }
  std::vector<Tensor> backward(const Tensor&, const std::vector<bool>&) {
    return {zeros(shape, dtype)};
  }
};

TEST(EngineTest, AGradientUnlikeItsInputIsRefused) {
  Tensor a = leaf({1, 2});
  EXPECT_TRUE(throws_error(
      [&] { sum(apply(WrongGradient{{3}, DType::kFloat64}, a)).backward(); },
      {"backward of wrong_gradient", "shape (3), dtype float64 on cpu for input 0",
       "which has shape (2), dtype float64 on cpu"}));
  EXPECT_TRUE(throws_error(
      [&] { sum(apply(WrongGradient{{2}, DType::kFloat32}, a)).backward(); },
      {"backward of wrong_gradient", "dtype float32", "which has shape (2), dtype float64"}));
  EXPECT_FALSE(a.grad().defined());
}

// A gradient on another device than its input, without a GPU: a node built by hand whose edge
// says its input lives on cuda:0, as a to(x, Device::cuda()) node's backward returning dy
// unmoved would see it (copy_cuda_test does that on a GPU).
struct PassThrough {
  static constexpr const char* kName = "pass_through";
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) { return {dy}; }
};

TEST(EngineTest, AGradientOnAnotherDeviceThanItsInputIsRefused) {
  Tensor a = leaf({1, 2});
  Edge edge = detail::make_edge(a);
  edge.device = Device::cuda();
  Tensor y = a.detach().clone();
  y.autograd_meta().requires_grad = true;
  y.autograd_meta().grad_fn = std::make_shared<OpNode<PassThrough>>(
      PassThrough{}, std::vector<Edge>{edge}, std::vector<bool>{true});
  EXPECT_TRUE(throws_error(
      [&] { backward(y, ones({2}, DType::kFloat64)); },
      {"backward of pass_through", "float64 on cpu for input 0", "float64 on cuda:0"}));
  EXPECT_FALSE(a.grad().defined());
}

TEST(EngineTest, AGradientArgumentUnlikeTheTensorIsRefused) {
  Tensor a = leaf({1, 2});
  EXPECT_TRUE(throws_error([&] { backward(a * 3.0, ones({2})); },
                           {"backward: gradient of shape (2), dtype float32 on cpu",
                            "tensor's shape (2), dtype float64 on cpu"}));
  EXPECT_TRUE(throws_error([&] { backward(a, ones({3}, DType::kFloat64)); },
                           {"gradient of shape (3)", "tensor's shape (2)"}));
  EXPECT_FALSE(a.grad().defined());
}

TEST(EngineTest, SavedTensorsAreReleasedAfterBackward) {
  Tensor a = leaf({1, 2});
  Tensor b = leaf({3, 4});
  long before = b.storage_use_count();
  Tensor y = sum(a * b);  // mul saves a and b, each as a handle of its own to the memory
  EXPECT_GT(b.storage_use_count(), before);
  y.backward();
  EXPECT_EQ(b.storage_use_count(), before);
  EXPECT_TRUE(throws_error([&] { y.backward(); }, {"sum", "second time", "retain_graph"}));
}

TEST(EngineTest, AGraphWithoutBackwardIsFreed) {
  // relu saves its own output; the graph must still be freed when backward never runs.
  Tensor a = leaf({1, -2});
  std::weak_ptr<Node> node;
  {
    Tensor y = relu(a * 2.0);
    node = y.grad_fn();
    EXPECT_FALSE(node.expired());
  }
  EXPECT_TRUE(node.expired());
}

TEST(EngineTest, RetainGraphAllowsASecondBackward) {
  Tensor a = leaf({1, 2});
  Tensor y = sum(a * a);
  backward(y, Tensor(), BackwardOptions{.retain_graph = true});
  backward(y);
  EXPECT_TRUE(all_close(a.grad(), from_vector<double>({4, 8}, {2})));  // 2 * (2a)
}

TEST(EngineTest, AfterNodeSeesEachNodeOnceInReverseTopologicalOrder) {
  Tensor a = leaf({1, 2, 3});
  Tensor b = leaf({4, 5, 6});
  Tensor y = sum(a * b + a);
  std::vector<std::string> visited;
  BackwardOptions options;
  options.after_node = [&](const Node& node) { visited.push_back(node.name()); };
  backward(y, Tensor(), options);
  EXPECT_EQ(visited, (std::vector<std::string>{"sum", "add", "mul"}));
  EXPECT_TRUE(all_close(a.grad(), from_vector<double>({5, 6, 7}, {3})));  // tracing changes nothing
}

TEST(EngineTest, LeafReadyReportsEachLeafOnceWhenItsGradientIsFinal) {
  // `a` feeds two nodes, so it is final only after both ran; `c` is on a branch of its own.
  Tensor a = leaf({1, 2, 3});
  Tensor b = leaf({4, 5, 6});
  Tensor c = leaf({7, 8, 9});
  Tensor y = sum(a * b + a) + sum(c * c);
  std::vector<std::string> events;
  std::map<AutogradMeta*, Tensor> grad_when_ready;
  BackwardOptions options;
  options.after_node = [&](const Node& node) { events.push_back(node.name()); };
  options.leaf_ready = [&](AutogradMeta& leaf) {
    EXPECT_EQ(grad_when_ready.count(&leaf), 0u) << "a leaf was reported twice";
    grad_when_ready[&leaf] = leaf.grad.clone();
    events.push_back("leaf");
  };
  backward(y, Tensor(), options);
  ASSERT_EQ(grad_when_ready.size(), 3u);
  for (Tensor* t : {&a, &b, &c}) {
    EXPECT_TRUE(all_close(grad_when_ready.at(&t->autograd_meta()), t->grad()));
  }
  // Reported while backward still runs, not all at the end.
  EXPECT_NE(events.back(), "leaf");
}

// An op whose backward gives its input no gradient, as a stop-gradient does.
struct StopsGradient {
  static constexpr const char* kName = "stops_gradient";
  Tensor forward(const Tensor& x) { return x.clone(); }
  std::vector<Tensor> backward(const Tensor&, const std::vector<bool>&) { return {Tensor()}; }
};

TEST(EngineTest, LeafReadyReportsALeafBehindANodeThatNoGradientReached) {
  // The node making a * 2 receives nothing and is skipped; `a` is still final, with no gradient.
  Tensor a = leaf({1, 2});
  Tensor b = leaf({3, 4});
  Tensor y = sum(apply(StopsGradient{}, a * 2.0) + b);
  std::map<AutogradMeta*, int> reports;
  BackwardOptions options;
  options.leaf_ready = [&](AutogradMeta& meta) { ++reports[&meta]; };
  backward(y, Tensor(), options);
  EXPECT_EQ(reports, (std::map<AutogradMeta*, int>{{&a.autograd_meta(), 1},
                                                   {&b.autograd_meta(), 1}}));
  EXPECT_FALSE(a.grad().defined());
  EXPECT_TRUE(all_close(b.grad(), from_vector<double>({1, 1}, {2})));
}

TEST(EngineTest, LeafReadyReportsALeafRoot) {
  Tensor a = leaf({1, 2});
  int reported = 0;
  BackwardOptions options;
  options.leaf_ready = [&](AutogradMeta& meta) {
    EXPECT_EQ(&meta, &a.autograd_meta());
    ++reported;
  };
  backward(a, from_vector<double>({3, 4}, {2}), options);
  EXPECT_EQ(reported, 1);
}

TEST(EngineTest, NonScalarRootNeedsAGradient) {
  Tensor a = leaf({1, 2});
  Tensor y = a * 3.0;
  EXPECT_TRUE(throws_error([&] { y.backward(); }, {"gradient argument", "(2)"}));
  y.backward(from_vector<double>({1, 10}, {2}));
  EXPECT_TRUE(all_close(a.grad(), from_vector<double>({3, 30}, {2})));
}

TEST(EngineTest, InputsWithoutRequiresGradGetNoGradient) {
  Tensor a = leaf({1, 2});
  Tensor c = from_vector<double>({5, 6}, {2});
  sum(a * c).backward();
  EXPECT_FALSE(c.grad().defined());
  EXPECT_TRUE(all_close(a.grad(), c));
}

TEST(EngineTest, ALeafRootsGradientIsACopyOfTheGradientArgument) {
  Tensor a = leaf({1, 2});
  Tensor gradient = from_vector<double>({3, 4}, {2});
  backward(a, gradient);
  a.grad().zero_();  // as zero_grad does: the caller's tensor must not change with it
  EXPECT_TRUE(all_close(gradient, from_vector<double>({3, 4}, {2})));
}

TEST(EngineTest, BackwardOfALeafAccumulatesIntoItsGrad) {
  Tensor a = leaf({1, 2});
  a.backward(from_vector<double>({7, 8}, {2}));
  EXPECT_TRUE(all_close(a.grad(), from_vector<double>({7, 8}, {2})));
}

// An op whose backward returns the wrong shape, as a buggy custom op might.
struct WrongShapeGrad {
  static constexpr const char* kName = "wrong_shape_grad";
  Tensor forward(const Tensor& x) { return x.clone(); }
  std::vector<Tensor> backward(const Tensor&, const std::vector<bool>&) { return {zeros({5})}; }
};

TEST(EngineTest, ABackwardReturningTheWrongShapeIsCaught) {
  Tensor a = leaf({1, 2});
  Tensor y = sum(apply(WrongShapeGrad{}, a));
  EXPECT_TRUE(throws_error([&] { y.backward(); }, {"wrong_shape_grad", "(5)", "(2)"}));
}

// An op of two inputs whose backward returns one gradient, as a buggy custom op might.
struct TooFewGradients {
  static constexpr const char* kName = "too_few_gradients";
  Tensor forward(const Tensor& x, const Tensor&) { return x.clone(); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) { return {dy}; }
};

TEST(EngineTest, ABackwardReturningTooFewGradientsIsCaught) {
  Tensor y = sum(apply(TooFewGradients{}, leaf({1, 2}), leaf({3, 4})));
  EXPECT_TRUE(throws_error([&] { y.backward(); },
                           {"backward of too_few_gradients returned 1 gradients for 2 inputs"}));
}

TEST(EngineTest, LongChainsDoNotOverflowTheStack) {
  Tensor a = leaf({1});
  Tensor y = a;
  for (int i = 0; i < 20000; ++i) y = y + 1.0;
  sum(y).backward();
  EXPECT_EQ(a.grad().item<double>(), 1.0);
}

TEST(EngineTest, OpsOnDifferentDevicesAreRejectedByName) {
  // Only the CPU exists here; a device mismatch is exercised in the CUDA tests.
  Tensor a = leaf({1});
  EXPECT_TRUE(throws_error([&] { add(a, Tensor()); }, {"add", "undefined"}));
}

}  // namespace
}  // namespace bitgrad
