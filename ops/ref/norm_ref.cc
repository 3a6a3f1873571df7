// Reference kernels for GroupNorm and Weight Standardization: plain loops with statistics in
// double. Variances are two-pass (centred), not E[x^2] - E[x]^2, which cancels badly when
// |mean| >> std.
#include <cmath>
#include <vector>

#include "ops/norm.h"

namespace bitgrad::ref {
namespace {

// Mean and biased variance of values[0..count), two-pass in double. An empty range gives 0, 0.
template <typename T>
void centred_moments(const T* values, int64_t count, double& mean, double& variance) {
  mean = 0;
  variance = 0;
  if (count == 0) return;
  for (int64_t i = 0; i < count; ++i) mean += values[i];
  mean /= static_cast<double>(count);
  for (int64_t i = 0; i < count; ++i) {
    double centred = values[i] - mean;
    variance += centred * centred;
  }
  variance /= static_cast<double>(count);
}

// The extents group_norm works in: x (N, C, *) is read as (N, G, C/G, S), S = prod(*).
struct GroupNormExtents {
  int64_t batch, channels, groups, channels_per_group, spatial;
  GroupNormExtents(const Tensor& x, int64_t num_groups)
      : batch(x.size(0)), channels(x.size(1)), groups(num_groups),
        channels_per_group(x.size(1) / num_groups), spatial(1) {
    for (int64_t d = 2; d < x.dim(); ++d) spatial *= x.size(d);
  }
  int64_t group_size() const { return channels_per_group * spatial; }
};

// x: (N, C, *) plain; gamma, beta: (C) or undefined (1 and 0). Returns y like x, and mean and
// rstd (N, G) in x's dtype, which backward needs. y = relu(...) when attrs.relu. Overwrites
// all outputs.
GroupNormResult group_norm_fwd_ref(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                   const GroupNormAttrs& attrs) {
  GroupNormExtents e(x, attrs.groups);
  GroupNormResult result{empty_like(x), empty({e.batch, e.groups}, x.dtype()),
                         empty({e.batch, e.groups}, x.dtype())};
  BG_DISPATCH_FLOAT(x.dtype(), "group_norm", [&] {
    const scalar_t* px = x.data<scalar_t>();
    const scalar_t* pgamma = data_or_null<scalar_t>(gamma);
    const scalar_t* pbeta = data_or_null<scalar_t>(beta);
    scalar_t* py = result.y.mutable_data<scalar_t>();
    scalar_t* pmean = result.mean.mutable_data<scalar_t>();
    scalar_t* prstd = result.rstd.mutable_data<scalar_t>();
    for (int64_t n = 0; n < e.batch; ++n) {
      for (int64_t g = 0; g < e.groups; ++g) {
        // A group's channels are adjacent, so the group is one contiguous run of x.
        int64_t start = (n * e.groups + g) * e.group_size();
        double mean, variance;
        centred_moments(px + start, e.group_size(), mean, variance);
        double rstd = 1.0 / std::sqrt(variance + attrs.eps);
        pmean[n * e.groups + g] = static_cast<scalar_t>(mean);
        prstd[n * e.groups + g] = static_cast<scalar_t>(rstd);
        for (int64_t cg = 0; cg < e.channels_per_group; ++cg) {
          int64_t c = g * e.channels_per_group + cg;
          double scale = pgamma ? pgamma[c] : 1.0;
          double shift = pbeta ? pbeta[c] : 0.0;
          for (int64_t s = 0; s < e.spatial; ++s) {
            int64_t i = start + cg * e.spatial + s;
            double value = (px[i] - mean) * rstd * scale + shift;
            if (attrs.relu && !(value > 0)) value = 0;
            py[i] = static_cast<scalar_t>(value);
          }
        }
      }
    }
  });
  return result;
}

// dy, x: (N, C, *); gamma, beta: (C) or undefined (1 and 0); mean, rstd: (N, G) from forward.
// With xhat = (x - mean) * rstd and g = dy, gated under attrs.relu by the pre-activation
// xhat * gamma + beta > 0, per group over its M elements:
//   dx = rstd * (g*gamma - mean(g*gamma) - xhat * mean(g*gamma * xhat))
//   dgamma[c] = sum g * xhat, dbeta[c] = sum g (over n and spatial positions)
// dgamma is undefined when gamma is. dbeta is always returned; autograd drops the gradient of an
// absent input. dx_addend, when defined, is added to dx. Overwrites all outputs.
GroupNormGrads group_norm_bwd_ref(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                                  const Tensor& beta, const Tensor& mean, const Tensor& rstd,
                                  const Tensor& dx_addend, const GroupNormAttrs& attrs) {
  BG_CHECK(!dx_addend.defined() || dx_addend.shape() == x.shape(), "group_norm backward: ",
           "dx_addend ", dx_addend.shape(), " does not match the input ", x.shape());
  GroupNormExtents e(x, attrs.groups);
  GroupNormGrads grads;
  grads.dx = empty_like(x);
  BG_DISPATCH_FLOAT(x.dtype(), "group_norm backward", [&] {
    const scalar_t* pdy = dy.data<scalar_t>();
    const scalar_t* px = x.data<scalar_t>();
    const scalar_t* pgamma = data_or_null<scalar_t>(gamma);
    const scalar_t* pbeta = data_or_null<scalar_t>(beta);
    const scalar_t* paddend = data_or_null<scalar_t>(dx_addend);
    const scalar_t* pmean = mean.data<scalar_t>();
    const scalar_t* prstd = rstd.data<scalar_t>();
    scalar_t* pdx = grads.dx.mutable_data<scalar_t>();
    std::vector<double> dgamma(e.channels, 0.0), dbeta(e.channels, 0.0);
    // dy at element i of channel c, through the ReLU's gate when there is one.
    auto gated = [&](int64_t i, int64_t c, double xhat) -> double {
      if (!attrs.relu) return pdy[i];
      double pre_activation = xhat * (pgamma ? pgamma[c] : 1.0) + (pbeta ? pbeta[c] : 0.0);
      return pre_activation > 0 ? pdy[i] : 0.0;
    };
    for (int64_t n = 0; n < e.batch; ++n) {
      for (int64_t g = 0; g < e.groups; ++g) {
        int64_t start = (n * e.groups + g) * e.group_size();
        double group_mean = pmean[n * e.groups + g];
        double group_rstd = prstd[n * e.groups + g];
        // First pass: the parameter gradients and the two group means dx needs.
        double sum_dxhat = 0, sum_dxhat_xhat = 0;
        for (int64_t cg = 0; cg < e.channels_per_group; ++cg) {
          int64_t c = g * e.channels_per_group + cg;
          double scale = pgamma ? pgamma[c] : 1.0;
          for (int64_t s = 0; s < e.spatial; ++s) {
            int64_t i = start + cg * e.spatial + s;
            double xhat = (px[i] - group_mean) * group_rstd;
            double grad = gated(i, c, xhat);
            dgamma[c] += grad * xhat;
            dbeta[c] += grad;
            sum_dxhat += grad * scale;
            sum_dxhat_xhat += grad * scale * xhat;
          }
        }
        double count = static_cast<double>(e.group_size());
        double mean_dxhat = count > 0 ? sum_dxhat / count : 0.0;
        double mean_dxhat_xhat = count > 0 ? sum_dxhat_xhat / count : 0.0;
        // Second pass: dx.
        for (int64_t cg = 0; cg < e.channels_per_group; ++cg) {
          int64_t c = g * e.channels_per_group + cg;
          double scale = pgamma ? pgamma[c] : 1.0;
          for (int64_t s = 0; s < e.spatial; ++s) {
            int64_t i = start + cg * e.spatial + s;
            double xhat = (px[i] - group_mean) * group_rstd;
            double dxhat = gated(i, c, xhat) * scale;
            pdx[i] = static_cast<scalar_t>(group_rstd *
                                               (dxhat - mean_dxhat - xhat * mean_dxhat_xhat) +
                                           (paddend ? paddend[i] : 0.0));
          }
        }
      }
    }
    grads.dbeta = from_vector(std::vector<scalar_t>(dbeta.begin(), dbeta.end()), {e.channels});
    if (gamma.defined()) {
      grads.dgamma =
          from_vector(std::vector<scalar_t>(dgamma.begin(), dgamma.end()), {e.channels});
    }
  });
  return grads;
}

// w: (O, ...) plain, read as O rows of K = numel / O. Returns w_hat like w, each row
// standardized: (w - mean) / sqrt(biased var + eps). Nothing is saved: backward recomputes the
// row statistics from w. Overwrites the output.
Tensor weight_standardize_fwd_ref(const Tensor& w, double eps) {
  Tensor out = empty_like(w);
  int64_t rows = w.size(0), row_size = rows > 0 ? w.numel() / rows : 0;
  BG_DISPATCH_FLOAT(w.dtype(), "weight_standardize", [&] {
    const scalar_t* pw = w.data<scalar_t>();
    scalar_t* po = out.mutable_data<scalar_t>();
    for (int64_t o = 0; o < rows; ++o) {
      const scalar_t* row = pw + o * row_size;
      double mean, variance;
      centred_moments(row, row_size, mean, variance);
      double rstd = 1.0 / std::sqrt(variance + eps);
      for (int64_t k = 0; k < row_size; ++k) {
        po[o * row_size + k] = static_cast<scalar_t>((row[k] - mean) * rstd);
      }
    }
  });
  return out;
}

// dy, w: (O, ...). Per row, with w_hat = (w - mean) * rstd:
//   dw = rstd * (dy - mean(dy) - w_hat * mean(dy * w_hat)).
// Overwrites the output.
Tensor weight_standardize_bwd_ref(const Tensor& dy, const Tensor& w, double eps) {
  Tensor dw = empty_like(w);
  int64_t rows = w.size(0), row_size = rows > 0 ? w.numel() / rows : 0;
  BG_DISPATCH_FLOAT(w.dtype(), "weight_standardize backward", [&] {
    const scalar_t* pw = w.data<scalar_t>();
    const scalar_t* pdy = dy.data<scalar_t>();
    scalar_t* pdw = dw.mutable_data<scalar_t>();
    for (int64_t o = 0; o < rows; ++o) {
      const scalar_t* row = pw + o * row_size;
      const scalar_t* drow = pdy + o * row_size;
      double mean, variance;
      centred_moments(row, row_size, mean, variance);
      double rstd = 1.0 / std::sqrt(variance + eps);
      double sum_dy = 0, sum_dy_what = 0;
      for (int64_t k = 0; k < row_size; ++k) {
        sum_dy += drow[k];
        sum_dy_what += drow[k] * (row[k] - mean) * rstd;
      }
      double mean_dy = sum_dy / static_cast<double>(row_size);
      double mean_dy_what = sum_dy_what / static_cast<double>(row_size);
      for (int64_t k = 0; k < row_size; ++k) {
        double w_hat = (row[k] - mean) * rstd;
        pdw[o * row_size + k] =
            static_cast<scalar_t>(rstd * (drow[k] - mean_dy - w_hat * mean_dy_what));
      }
    }
  });
  return dw;
}

}  // namespace

BG_REGISTER_KERNEL(WeightStandardizeFwd, kRef, weight_standardize_fwd_ref);
BG_REGISTER_KERNEL(WeightStandardizeBwd, kRef, weight_standardize_bwd_ref);
BG_REGISTER_KERNEL(GroupNormFwd, kRef, group_norm_fwd_ref);
BG_REGISTER_KERNEL(GroupNormBwd, kRef, group_norm_bwd_ref);

}  // namespace bitgrad::ref
