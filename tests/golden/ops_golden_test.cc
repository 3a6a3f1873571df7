// The per-op fixtures of tools/golden (tests/golden/ops/) against bitgrad's ops, forward and
// backward: conv2d, weight-standardized conv2d, group_norm (+ fused ReLU), BiT's zero-pad
// max-pool, and soft-target cross-entropy with the mixup blend.
#include <string>
#include <vector>

#include "models/nn/pool.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/loss.h"
#include "ops/norm.h"
#include "ops/pad.h"
#include "ops/pool.h"
#include "ops/reshape.h"
#include "tests/golden/golden.h"

namespace bitgrad::golden {
namespace {

// Scaled errors (golden.h close()) measured with the reference kernels: at most 3.1e-7 (conv2d
// and the pools agree exactly); the README promises about 1e-5.
constexpr double kTol = 1e-5;

const std::string kOps = "tests/golden/ops/";

Tensor leaf(const Tensor& value) {
  Tensor copy = value.clone();
  copy.set_requires_grad(true);
  return copy;
}

std::array<int64_t, 2> pair_of(const Fixture& f, const std::string& key) {
  std::vector<int64_t> v = f.ints(key);
  return {v.at(0), v.at(1)};
}

using OpsGoldenTest = GoldenTest;

TEST_P(OpsGoldenTest, Conv2d) {
  Fixture f(kOps + "conv2d.npz");
  const std::vector<std::string> cases = {"basic",       "strided",        "grouped",
                                          "depthwise",   "dilated",        "proj_1x1_s2",
                                          "root_7x7_s2_p3", "strided_3x3_p1_odd"};
  for (const std::string& name : cases) {
    SCOPED_TRACE(name);
    const std::string p = name + "/";
    Conv2dAttrs attrs;
    attrs.stride = pair_of(f, p + "stride");
    attrs.padding = pair_of(f, p + "padding");
    attrs.dilation = pair_of(f, p + "dilation");
    attrs.groups = f.ints(p + "groups").at(0);
    const bool has_bias = f.has(p + "b");
    Tensor x = leaf(f[p + "x"]), w = leaf(f[p + "w"]);
    Tensor b = has_bias ? leaf(f[p + "b"]) : Tensor();
    Tensor y = conv2d(x, w, b, attrs);
    EXPECT_TRUE(close(y, f[p + "y"], kTol)) << "y";
    y.backward(f[p + "dy"]);
    EXPECT_TRUE(close(x.grad(), f[p + "dx"], kTol)) << "dx";
    EXPECT_TRUE(close(w.grad(), f[p + "dw"], kTol)) << "dw";
    if (has_bias) {
      EXPECT_TRUE(close(b.grad(), f[p + "db"], kTol)) << "db";
    }
  }
}

TEST_P(OpsGoldenTest, WeightStandardizedConv2d) {
  Fixture f(kOps + "ws_conv2d.npz");
  for (const std::string name : {"basic", "strided_1x1", "tiny_var"}) {
    SCOPED_TRACE(name);
    const std::string p = name + "/";
    const double eps = f.scalar(p + "eps");
    Conv2dAttrs attrs;
    attrs.stride = pair_of(f, p + "stride");
    attrs.padding = pair_of(f, p + "padding");
    Tensor x = leaf(f[p + "x"]), w = leaf(f[p + "w"]);
    Tensor w_hat = weight_standardize(w, eps);
    EXPECT_TRUE(close(w_hat, f[p + "w_hat"], kTol)) << "w_hat";
    Tensor y = conv2d(x, w_hat, Tensor(), attrs);
    EXPECT_TRUE(close(y, f[p + "y"], kTol)) << "y";
    y.backward(f[p + "dy"]);
    EXPECT_TRUE(close(x.grad(), f[p + "dx"], kTol)) << "dx";
    EXPECT_TRUE(close(w.grad(), f[p + "dw"], kTol)) << "dw";
    // The standardization on its own.
    Tensor w2 = leaf(f[p + "w"]);
    weight_standardize(w2, eps).backward(f[p + "dw_hat"]);
    EXPECT_TRUE(close(w2.grad(), f[p + "dw_from_hat"], kTol)) << "dw_from_hat";
  }
}

TEST_P(OpsGoldenTest, GroupNormAndFusedRelu) {
  Fixture f(kOps + "group_norm.npz");
  for (const std::string name : {"basic", "two_per_group", "one_group", "offset"}) {
    SCOPED_TRACE(name);
    const std::string p = name + "/";
    GroupNormAttrs attrs;
    attrs.groups = f.ints(p + "groups").at(0);
    attrs.eps = f.scalar(p + "eps");
    for (bool relu : {false, true}) {
      SCOPED_TRACE(relu ? "relu" : "plain");
      const std::string suffix = relu ? "_relu" : "";
      attrs.relu = relu;
      Tensor x = leaf(f[p + "x"]), gamma = leaf(f[p + "gamma"]), beta = leaf(f[p + "beta"]);
      Tensor y = group_norm(x, gamma, beta, attrs);
      EXPECT_TRUE(close(y, f[p + "y" + suffix], kTol)) << "y";
      y.backward(f[p + "dy"]);
      EXPECT_TRUE(close(x.grad(), f[p + "dx" + suffix], kTol)) << "dx";
      EXPECT_TRUE(close(gamma.grad(), f[p + "dgamma" + suffix], kTol)) << "dgamma";
      EXPECT_TRUE(close(beta.grad(), f[p + "dbeta" + suffix], kTol)) << "dbeta";
    }
    // The statistics the forward kernel saves for backward.
    attrs.relu = false;
    GroupNormResult stats = call<GroupNormFwd>(f[p + "x"], f[p + "gamma"], f[p + "beta"], attrs);
    EXPECT_TRUE(close(stats.mean, f[p + "mean"], kTol)) << "mean";
    EXPECT_TRUE(close(stats.rstd, f[p + "rstd"], kTol)) << "rstd";
  }
}

TEST_P(OpsGoldenTest, ZeroPadMaxPool) {
  Fixture f(kOps + "max_pool.npz");
  for (const std::string name : {"even", "odd"}) {
    SCOPED_TRACE(name);
    const std::string p = name + "/";
    Pool2dAttrs attrs;
    attrs.kernel = {3, 3};
    attrs.stride = {2, 2};
    Tensor x = leaf(f[p + "x"]);
    Tensor padded = pad(x, {1, 1, 1, 1}, 0.0);
    EXPECT_TRUE(close(padded, f[p + "padded"], 0.0)) << "padded";
    Tensor y = max_pool2d(padded, attrs);
    EXPECT_TRUE(close(y, f[p + "y"], 0.0)) << "y";  // a max is exact
    y.backward(f[p + "dy"]);
    EXPECT_TRUE(close(x.grad(), f[p + "dx"], kTol)) << "dx";
    // The layer BiT's root block uses gives the same.
    nn::ZeroPadMaxPool2d layer(1, attrs);
    EXPECT_TRUE(close(layer.forward(f[p + "x"]), f[p + "y"], 0.0)) << "ZeroPadMaxPool2d";
    // PyTorch's -inf padding, which BiT does not use, is a different answer.
    Pool2dAttrs neg_inf = attrs;
    neg_inf.padding = {1, 1};
    Tensor y_neg_inf = max_pool2d(f[p + "x"], neg_inf);
    EXPECT_TRUE(close(y_neg_inf, f[p + "y_neg_inf_pad"], 0.0)) << "y_neg_inf_pad";
    EXPECT_FALSE(close(y_neg_inf, f[p + "y"], kTol)) << "the fixture must tell the pads apart";
  }
}

TEST_P(OpsGoldenTest, SoftTargetCrossEntropyAndMixup) {
  Fixture f(kOps + "cross_entropy.npz");
  const std::vector<int64_t> labels = f.ints("labels"), perm = f.ints("perm");
  const int64_t n = static_cast<int64_t>(labels.size());
  const int64_t k = f["logits"].size(1);
  const double lam = f.scalar("lam");
  std::vector<int64_t> permuted_labels;
  for (int64_t i : perm) permuted_labels.push_back(labels[i]);

  Tensor target = mixup_targets(labels, perm, lam, k);
  EXPECT_TRUE(close(target, f["target"], kTol)) << "target";

  Tensor logits = leaf(f["logits"]);
  Tensor loss = cross_entropy(logits, target);
  EXPECT_NEAR(loss.item<double>(), f.scalar("loss"), kTol * f.scalar("loss"));
  loss.backward();
  EXPECT_TRUE(close(logits.grad(), f["dlogits"], kTol)) << "dlogits";

  // The official two-term form gives the same loss.
  const Tensor labels_t = from_vector(labels, {n}), permuted_t = from_vector(permuted_labels, {n});
  Tensor two_term = cross_entropy(f["logits"], labels_t) * lam +
                    cross_entropy(f["logits"], permuted_t) * (1 - lam);
  EXPECT_NEAR(two_term.item<double>(), f.scalar("loss_two_term"), kTol * f.scalar("loss"));

  Tensor logits_hard = leaf(f["logits"]);
  Tensor loss_hard = cross_entropy(logits_hard, labels_t);
  EXPECT_NEAR(loss_hard.item<double>(), f.scalar("loss_hard"), kTol * f.scalar("loss_hard"));
  loss_hard.backward();
  EXPECT_TRUE(close(logits_hard.grad(), f["dlogits_hard"], kTol)) << "dlogits_hard";

  Tensor x = leaf(f["x"]);
  Tensor x_mixed = mixup_inputs(x, perm, lam);
  EXPECT_TRUE(close(x_mixed, f["x_mixed"], kTol)) << "x_mixed";
  x_mixed.backward(f["dx_mixed"]);
  EXPECT_TRUE(close(x.grad(), f["dx"], kTol)) << "dx";
}

BG_GOLDEN_INSTANTIATE(OpsGoldenTest);

}  // namespace
}  // namespace bitgrad::golden
