#include "models/module.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::throws_error;

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& entries) {
  std::vector<std::string> names;
  for (const auto& entry : entries) names.push_back(entry.first);
  return names;
}

// leaf: weight (2, 3), bias (2); buffer "count".
class Leaf : public Module {
 public:
  Leaf() : Module("Leaf") {
    weight = register_parameter("weight", ones({2, 3}));
    bias = register_parameter("bias", zeros({2}));
    count = register_buffer("count", zeros({1}, DType::kInt64));
  }
  Tensor weight, bias, count;
};

// root: scale, a (Leaf), inner (Module with b (Leaf)), offset — registered in that order.
class Tree : public Module {
 public:
  Tree() : Module("Tree") {
    scale = register_parameter("scale", full({1}, 2.0));
    a = register_module("a", std::make_shared<Leaf>());
    inner = register_module("inner", std::make_shared<Module>("Inner"));
    b = inner->register_module("b", std::make_shared<Leaf>());
    offset = register_parameter("offset", zeros({3}));
    running = register_buffer("running", ones({3}));
  }
  Tensor scale, offset, running;
  std::shared_ptr<Leaf> a, b;
  std::shared_ptr<Module> inner;
};

TEST(ModuleTest, NamedParametersAreDottedOwnEntriesFirstThenChildrenInOrder) {
  Tree tree;
  EXPECT_EQ(names_of(tree.named_parameters()),
            (std::vector<std::string>{"scale", "offset", "a.weight", "a.bias", "inner.b.weight",
                                      "inner.b.bias"}));
  EXPECT_EQ(names_of(tree.named_parameters(/*recurse=*/false)),
            (std::vector<std::string>{"scale", "offset"}));
  EXPECT_EQ(names_of(tree.named_buffers()),
            (std::vector<std::string>{"running", "a.count", "inner.b.count"}));
  std::vector<std::string> modules;
  for (const auto& entry : tree.named_modules()) modules.push_back(entry.first);
  EXPECT_EQ(modules, (std::vector<std::string>{"a", "inner", "inner.b"}));
  std::vector<std::string> children;
  for (const auto& entry : tree.named_children()) children.push_back(entry.first);
  EXPECT_EQ(children, (std::vector<std::string>{"a", "inner"}));
  EXPECT_EQ(count_elements(tree.parameters()), 1 + 3 + 2 * (6 + 2));
}

TEST(ModuleTest, ParametersAreTheSameTensorsAsTheMembers) {
  Tree tree;
  EXPECT_TRUE(tree.parameter("inner.b.weight").is_same(tree.b->weight));
  EXPECT_TRUE(tree.parameters()[0].is_same(tree.scale));
  EXPECT_TRUE(tree.buffer("a.count").is_same(tree.a->count));
  EXPECT_EQ(tree.submodule("inner.b").get(), tree.b.get());
  EXPECT_TRUE(tree.scale.requires_grad());
  EXPECT_FALSE(tree.running.requires_grad());
}

TEST(ModuleTest, RegisteringATakenNameThrowsNamingModuleAndName) {
  Tree tree;
  EXPECT_TRUE(throws_error([&] { tree.register_parameter("scale", ones({1})); },
                           {"Tree", "register_parameter", "'scale'", "already registered",
                            "a parameter"}));
  EXPECT_TRUE(throws_error([&] { tree.register_buffer("a", ones({1})); },
                           {"Tree", "register_buffer", "'a'", "a submodule"}));
  EXPECT_TRUE(throws_error([&] { tree.register_module("running", std::make_shared<Leaf>()); },
                           {"Tree", "register_module", "'running'", "a buffer"}));
}

TEST(ModuleTest, NamesWithADotOrEmptyAreRefused) {
  Module module("Custom");
  EXPECT_TRUE(throws_error([&] { module.register_parameter("a.b", ones({1})); },
                           {"Custom", "'a.b'", "contains a '.'"}));
  EXPECT_TRUE(throws_error([&] { module.register_module("x.y", std::make_shared<Leaf>()); },
                           {"Custom", "'x.y'", "'.'"}));
  EXPECT_TRUE(throws_error([&] { module.register_buffer("", ones({1})); }, {"Custom", "empty"}));
}

TEST(ModuleTest, ParametersMustBeDefinedFloatingLeaves) {
  Module module("Custom");
  EXPECT_TRUE(throws_error([&] { module.register_parameter("w", Tensor()); },
                           {"Custom", "'w'", "undefined"}));
  EXPECT_TRUE(throws_error([&] { module.register_parameter("w", zeros({2}, DType::kInt64)); },
                           {"Custom", "'w'", "floating", "int64"}));
  EXPECT_TRUE(throws_error([&] { module.register_module("m", std::shared_ptr<Module>()); },
                           {"Custom", "'m'", "null"}));
  // An op's result would be a parameter the optimizer cannot update in place.
  const Tensor leaf = ones({2}).set_requires_grad();
  EXPECT_TRUE(throws_error([&] { module.register_parameter("w", leaf * 2.0); },
                           {"Custom", "'w'", "grad_fn", "x.detach()"}));
  EXPECT_TRUE(throws_error([&] { module.register_buffer("b", Tensor()); },
                           {"Custom", "register_buffer", "'b'", "undefined"}));
  EXPECT_TRUE(module.named_parameters().empty());
  EXPECT_TRUE(module.named_buffers().empty());
}

// A module among its own submodules would make every recursive walk endless.
TEST(ModuleTest, AModuleCannotBeItsOwnSubmoduleNorReplacedByNothing) {
  auto module = std::make_shared<Module>("Custom");
  EXPECT_TRUE(throws_error([&] { module->register_module("me", module); },
                           {"Custom", "'me'", "the module itself"}));
  EXPECT_TRUE(module->named_children().empty());
  Tree tree;
  EXPECT_TRUE(throws_error([&] { tree.replace_module("a", std::shared_ptr<Leaf>()); },
                           {"Tree", "replace_module", "'a'", "null"}));
  EXPECT_NE(tree.submodule("a"), nullptr);
}

TEST(ModuleTest, LookupsOfMissingNamesThrowNamingThem) {
  Tree tree;
  EXPECT_TRUE(throws_error([&] { tree.parameter("inner.b.gamma"); },
                           {"Tree", "no parameter named 'inner.b.gamma'"}));
  EXPECT_TRUE(throws_error([&] { tree.parameter("nope.weight"); },
                           {"no submodule named 'nope'"}));
  EXPECT_TRUE(throws_error([&] { tree.submodule("inner.c"); },
                           {"no submodule named 'inner.c'", "Inner has no child 'c'"}));
}

TEST(ModuleTest, TrainAndEvalAreRecursive) {
  Tree tree;
  EXPECT_TRUE(tree.is_training());
  tree.eval();
  EXPECT_FALSE(tree.is_training());
  EXPECT_FALSE(tree.a->is_training());
  EXPECT_FALSE(tree.b->is_training());
  tree.b->train();
  EXPECT_TRUE(tree.b->is_training());
  EXPECT_FALSE(tree.inner->is_training());
  tree.train();
  for (const auto& entry : tree.named_modules()) EXPECT_TRUE(entry.second->is_training());
}

TEST(ModuleTest, ZeroGradSetsEveryGradientToUndefined) {
  Tree tree;
  for (Tensor& p : tree.parameters()) p.set_grad(ones_like(p));
  tree.zero_grad();
  for (const Tensor& p : tree.parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(ModuleTest, ToDTypeConvertsInPlaceSoHeldHandlesFollow) {
  Tree tree;
  Tensor held = tree.a->weight;  // e.g. an optimizer's handle
  held.set_grad(full({2, 3}, 0.5));
  EXPECT_EQ(tree.dtype(), DType::kFloat32);
  tree.to(DType::kFloat64);
  EXPECT_EQ(tree.dtype(), DType::kFloat64);
  EXPECT_TRUE(held.is_same(tree.a->weight));
  EXPECT_EQ(held.dtype(), DType::kFloat64);
  EXPECT_TRUE(held.requires_grad());
  EXPECT_EQ(held.grad().dtype(), DType::kFloat64);
  EXPECT_EQ(held.grad().to_vector<double>(), std::vector<double>(6, 0.5));
  EXPECT_EQ(held.to_vector<double>(), std::vector<double>(6, 1.0));
  EXPECT_EQ(tree.running.dtype(), DType::kFloat64);
  EXPECT_EQ(tree.inner->dtype(), DType::kFloat64);  // it has no parameter of its own, b has
  EXPECT_EQ(tree.a->count.dtype(), DType::kInt64);  // integer buffers are left alone
  EXPECT_TRUE(throws_error([&] { tree.to(DType::kInt64); }, {"Tree", "floating"}));
}

// Moving to a GPU: cuda_module_test.cc.
TEST(ModuleTest, ToTheCurrentDeviceKeepsTheMemory) {
  Tree tree;
  const void* before = tree.a->weight.raw_data();
  tree.to(Device::cpu());
  EXPECT_EQ(tree.a->weight.raw_data(), before);
}

TEST(ModuleTest, ReplaceModuleKeepsThePlaceInTheOrder) {
  Tree tree;
  auto fresh = std::make_shared<Leaf>();
  tree.replace_module("a", fresh);
  EXPECT_EQ(tree.submodule("a").get(), fresh.get());
  EXPECT_EQ(names_of(tree.named_parameters())[2], "a.weight");
  EXPECT_TRUE(tree.parameter("a.weight").is_same(fresh->weight));
  EXPECT_TRUE(throws_error([&] { tree.replace_module("zzz", fresh); },
                           {"Tree", "replace_module", "'zzz'"}));
}

// A module that counts how often its cache was dropped.
class Caching : public Module {
 public:
  Caching() : Module("Caching") {}
  int cleared = 0;

 protected:
  void clear_cache() override { ++cleared; }
};

TEST(ModuleTest, TrainEvalToAndInvalidateReachEveryCache) {
  Module root("Root");
  auto child = root.register_module("child", std::make_shared<Caching>());
  root.eval();
  EXPECT_EQ(child->cleared, 1);
  root.train();
  EXPECT_EQ(child->cleared, 2);
  root.to(Device::cpu());
  EXPECT_EQ(child->cleared, 3);
  root.invalidate_caches();
  EXPECT_EQ(child->cleared, 4);
}

}  // namespace
}  // namespace bitgrad
