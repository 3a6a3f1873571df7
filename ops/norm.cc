#include "ops/norm.h"

#include "autograd/function.h"

namespace bitgrad {
namespace {

void check_affine_param(const char* what, const Tensor& param, const Tensor& x) {
  if (!param.defined()) return;
  BG_CHECK(param.shape() == Shape{x.size(1)}, "group_norm: expected ", what, " of shape (",
           x.size(1), ") for input ", x.shape(), ", got ", param.shape());
  BG_CHECK(param.dtype() == x.dtype(), "group_norm: ", what, " is ", dtype_name(param.dtype()),
           " but input is ", dtype_name(x.dtype()));
}

struct GroupNorm {
  static constexpr const char* kName = "group_norm";
  GroupNormAttrs attrs;
  SavedTensor x, gamma, beta, mean, rstd;

  Tensor forward(const Tensor& input, const Tensor& weight, const Tensor& bias) {
    BG_CHECK(input.dim() >= 2, "group_norm: expected input of shape (N, C, ...), got ",
             input.shape());
    BG_CHECK(attrs.groups >= 1 && input.size(1) % attrs.groups == 0, "group_norm: ",
             attrs.groups, " groups do not divide the ", input.size(1), " channels of input ",
             input.shape());
    BG_CHECK(attrs.eps >= 0, "group_norm: eps must be >= 0, got ", attrs.eps);
    check_affine_param("gamma", weight, input);
    check_affine_param("beta", bias, input);
    GroupNormResult result = call<GroupNormFwd>(input, weight, bias, attrs);
    x = input;
    gamma = weight;
    if (attrs.relu) beta = bias;  // the ReLU gate is recomputed from x; beta is not needed else
    mean = result.mean;
    rstd = result.rstd;
    return result.y;
  }

  // partial[0], x's gradient from its other consumers, is added by the kernel (Node::backward).
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&,
                               const std::vector<Tensor>& partial, std::vector<bool>& folded) {
    GroupNormGrads grads = call<GroupNormBwd>(dy, x, gamma, beta, mean, rstd, partial[0], attrs);
    folded[0] = partial[0].defined();
    return {grads.dx, grads.dgamma, grads.dbeta};
  }
};

struct WeightStandardize {
  static constexpr const char* kName = "weight_standardize";
  double eps;
  SavedTensor w;

  Tensor forward(const Tensor& weight) {
    BG_CHECK(weight.dim() >= 2 && weight.numel() > 0, "weight_standardize: expected a weight of ",
             "shape (O, ...) with at least one element per output channel, got ", weight.shape());
    BG_CHECK(eps >= 0, "weight_standardize: eps must be >= 0, got ", eps);
    w = weight;
    return call<WeightStandardizeFwd>(weight, eps);
  }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) {
    return {call<WeightStandardizeBwd>(dy, w, eps)};
  }
};

}  // namespace

Tensor group_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                  const GroupNormAttrs& attrs) {
  BG_CHECK(x.defined(), "group_norm: the input tensor is undefined");
  return apply(GroupNorm{attrs}, x, gamma, beta);
}

Tensor weight_standardize(const Tensor& w, double eps) {
  BG_CHECK(w.defined(), "weight_standardize: the weight tensor is undefined");
  return apply(WeightStandardize{eps}, w);
}

}  // namespace bitgrad
