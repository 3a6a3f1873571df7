// The CPU softmax cross-entropy kernels against the reference kernels.
#include <cmath>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "gtest/gtest.h"
#include "ops/loss.h"
#include "tests/ops_cpu/cpu_kernel_testing.h"
#include "tests/testing/gradcheck.h"

namespace bitgrad {
namespace {

using testing::close_relative;
using testing::random_normal;
using testing::tolerance_for;

Tensor random_labels(int64_t rows, int64_t classes, Generator& gen) {
  std::vector<int64_t> labels(rows);
  for (int64_t& label : labels) label = gen.randint(classes);
  return from_vector(labels, {rows});
}

// Mixup-style rows: two one-hot rows blended by lambda, with `mass` total per row (1 under
// mixup; other values test the general formula).
Tensor blended_targets(int64_t rows, int64_t classes, DType dtype, Generator& gen,
                       double mass = 1.0) {
  Tensor t = zeros({rows, classes}, dtype);
  BG_DISPATCH_FLOAT(dtype, "blended_targets", [&] {
    scalar_t* p = t.mutable_data<scalar_t>();
    for (int64_t n = 0; n < rows; ++n) {
      const double lambda = gen.uniform();
      p[n * classes + gen.randint(classes)] += static_cast<scalar_t>(mass * lambda);
      p[n * classes + gen.randint(classes)] += static_cast<scalar_t>(mass * (1 - lambda));
    }
  });
  return t;
}

CrossEntropyResult fwd_on(Backend backend, const Tensor& logits, const Tensor& target) {
  BackendOverride use(backend);
  return call<CrossEntropyFwd>(logits, target);
}

Tensor bwd_on(Backend backend, const Tensor& dloss, const Tensor& probs, const Tensor& target) {
  BackendOverride use(backend);
  return call<CrossEntropyBwd>(dloss, probs, target);
}

void expect_matches_reference(const Tensor& logits, const Tensor& target, double tol) {
  CrossEntropyResult ref = fwd_on(Backend::kRef, logits, target);
  CrossEntropyResult got = fwd_on(Backend::kCpu, logits, target);
  EXPECT_TRUE(close_relative(got.loss, ref.loss, tol));
  EXPECT_TRUE(close_relative(got.probs, ref.probs, tol));
  Tensor dloss = scalar_tensor(0.75, logits.dtype());
  EXPECT_TRUE(close_relative(bwd_on(Backend::kCpu, dloss, ref.probs, target),
                             bwd_on(Backend::kRef, dloss, ref.probs, target), tol));
}

// Small and large batches (the large ones run on several threads), 1000 and 21843 classes as in
// BiT's ImageNet heads, one class, and logits offset by 1000 (exp overflows without the max).
TEST(CrossEntropyKernelsTest, MatchesReference) {
  Generator gen(29);
  struct Case {
    int64_t rows, classes;
    double offset;
  };
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (const Case& c : std::vector<Case>{
             {1, 1, 0}, {3, 5, 0}, {37, 1000, 0}, {4, 21843, 0}, {8, 10, 1000}, {64, 100, -500}}) {
      SCOPED_TRACE(std::to_string(c.rows) + "x" + std::to_string(c.classes) + " offset " +
                   std::to_string(c.offset) + " " + dtype_name(dtype));
      Tensor logits = random_normal({c.rows, c.classes}, dtype, gen, c.offset, 3.0);
      const double tol = tolerance_for(dtype);
      {
        SCOPED_TRACE("class indices");
        expect_matches_reference(logits, random_labels(c.rows, c.classes, gen), tol);
      }
      {
        SCOPED_TRACE("mixup targets");
        expect_matches_reference(logits, blended_targets(c.rows, c.classes, dtype, gen), tol);
      }
      {
        SCOPED_TRACE("targets summing to 0.7");
        expect_matches_reference(logits, blended_targets(c.rows, c.classes, dtype, gen, 0.7), tol);
      }
    }
  }
}

// Independent of the reference: one-hot soft targets give the class-index loss exactly, and the
// loss of uniform logits is log K.
TEST(CrossEntropyKernelsTest, OneHotMatchesClassIndicesAndUniformGivesLogK) {
  BackendOverride use(Backend::kCpu);
  Generator gen(31);
  Tensor logits = random_normal({5, 7}, DType::kFloat64, gen);
  Tensor labels = from_vector<int64_t>({0, 6, 3, 3, 1}, {5});
  Tensor one_hot = zeros({5, 7}, DType::kFloat64);
  for (int64_t n = 0; n < 5; ++n) one_hot.at<double>({n, labels.at<int64_t>({n})}) = 1.0;
  EXPECT_DOUBLE_EQ(call<CrossEntropyFwd>(logits, labels).loss.item<double>(),
                   call<CrossEntropyFwd>(logits, one_hot).loss.item<double>());
  EXPECT_NEAR(call<CrossEntropyFwd>(zeros({5, 7}, DType::kFloat64), labels).loss.item<double>(),
              std::log(7.0), 1e-12);
}

TEST(CrossEntropyKernelsTest, GradcheckThroughKcpu) {
  Generator gen(37);
  testing::GradcheckOptions options;
  options.backend = Backend::kCpu;
  Tensor logits = random_normal({4, 6}, DType::kFloat64, gen).set_requires_grad();
  Tensor labels = random_labels(4, 6, gen);
  Tensor soft = blended_targets(4, 6, DType::kFloat64, gen, 0.8);
  EXPECT_TRUE(testing::gradcheck(
      [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], labels); }, {logits},
      options));
  EXPECT_TRUE(
      testing::gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], soft); },
                         {logits}, options));
}

TEST(CrossEntropyKernelsTest, ErrorsNameTheOpAndValues) {
  BackendOverride use(Backend::kCpu);
  Tensor logits = zeros({2, 3});
  EXPECT_TRUE(testing::throws_error(
      [&] {
        call<CrossEntropyFwd>(logits, from_vector<int64_t>({0, 3}, {2}));
      },
      {"cross_entropy", "label 3", "row 1", "K = 3"}));
  EXPECT_TRUE(testing::throws_error(
      [&] {
        call<CrossEntropyBwd>(scalar_tensor(1.0), logits, from_vector<int64_t>({-1, 0}, {2}));
      },
      {"cross_entropy backward", "label -1", "row 0"}));
  EXPECT_TRUE(testing::throws_error(
      [&] {
        call<CrossEntropyFwd>(logits, zeros({2, 4}));
      },
      {"cross_entropy", "(2, 3)", "(2, 4)"}));
  EXPECT_TRUE(testing::throws_error([&] { call<CrossEntropyFwd>(zeros({6}), zeros({6})); },
                                    {"cross_entropy", "(N, K)", "(6)"}));
}

}  // namespace
}  // namespace bitgrad
