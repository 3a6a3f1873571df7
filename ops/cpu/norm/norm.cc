// The kCpu kernels of ops/norm.h: Tensor in, Tensor out, over the raw-pointer kernels of
// group_norm_kernel.h and weight_standardize_kernel.h. GroupNorm takes plain tensors and
// oneDNN's channel-blocked ones (nChw8c / nChw16c, as the oneDNN convs leave them), which it
// reads and writes without a reorder; Weight Standardization takes plain weights.
#include <utility>

#include "core/check.h"
#include "ops/cpu/common/onednn_layout.h"
#include "ops/cpu/norm/group_norm_kernel.h"
#include "ops/cpu/norm/weight_standardize_kernel.h"
#include "ops/norm.h"

namespace bitgrad::cpu {
namespace {

// x in a layout the kernels read: itself when plain or blocked with a compiled block size,
// else converted to plain.
Tensor in_kernel_layout(const Tensor& x) {
  int64_t block = onednn::channel_block(x);
  return block >= 1 && is_supported_channel_block(block) ? x : x.to_plain();
}

ChannelBlockedShape blocked_shape(const Tensor& x) {
  BG_CHECK(x.dim() >= 2, "group_norm: expected input of shape (N, C, ...), got ", x.shape());
  ChannelBlockedShape shape;
  shape.batch = x.size(0);
  shape.channels = x.size(1);
  shape.spatial = 1;
  for (int64_t d = 2; d < x.dim(); ++d) shape.spatial *= x.size(d);
  shape.channel_block = onednn::channel_block(x);
  return shape;
}

// The elements of a tensor in either layout (data<T>() accepts plain tensors only).
template <typename T>
const T* elements(const Tensor& t) {
  BG_ASSERT(t.dtype() == dtype_of<T>(), "group_norm: a ", dtype_name(t.dtype()), " tensor");
  return static_cast<const T*>(t.raw_data());
}

template <typename T>
T* mutable_elements(Tensor& t) {
  BG_ASSERT(t.dtype() == dtype_of<T>(), "group_norm: a ", dtype_name(t.dtype()), " tensor");
  return static_cast<T*>(t.mutable_raw_data());
}

// x: (N, C, *) plain, or channel-blocked; gamma, beta: (C) or undefined. Returns y in x's
// layout, mean and rstd (N, G). Overwrites all outputs.
GroupNormResult group_norm_fwd_cpu(const Tensor& input, const Tensor& gamma, const Tensor& beta,
                                   const GroupNormAttrs& attrs) {
  const Tensor x = in_kernel_layout(input);
  const ChannelBlockedShape shape = blocked_shape(x);
  GroupNormResult result{onednn::empty_like_layout(x),
                         empty({shape.batch, attrs.groups}, x.dtype()),
                         empty({shape.batch, attrs.groups}, x.dtype())};
  BG_DISPATCH_FLOAT(x.dtype(), "group_norm", [&] {
    group_norm_fwd_blocked<scalar_t>(
        shape, attrs, elements<scalar_t>(x), data_or_null<scalar_t>(gamma),
        data_or_null<scalar_t>(beta), mutable_elements<scalar_t>(result.y),
        result.mean.mutable_data<scalar_t>(), result.rstd.mutable_data<scalar_t>());
  });
  return result;
}

// dy, x, dx_addend: (N, C, *) in any layouts (dy and dx_addend are brought to x's); gamma,
// beta: (C) or undefined; mean, rstd: (N, G); dx_addend may be undefined. Returns dx in x's
// layout, dbeta (C) and dgamma (C) when gamma is defined (dbeta always: autograd drops it when
// beta is absent). Overwrites all outputs.
GroupNormGrads group_norm_bwd_cpu(const Tensor& dy_input, const Tensor& x_input,
                                  const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                                  const Tensor& rstd, const Tensor& addend_input,
                                  const GroupNormAttrs& attrs) {
  const Tensor x = in_kernel_layout(x_input);
  const ChannelBlockedShape shape = blocked_shape(x);
  BG_CHECK(dy_input.shape() == x.shape(), "group_norm backward: dy ", dy_input.shape(),
           " does not match the input ", x.shape());
  const Shape stats{shape.batch, attrs.groups};
  BG_CHECK(mean.shape() == stats && rstd.shape() == stats, "group_norm backward: expected mean ",
           "and rstd of shape ", stats, ", got ", mean.shape(), " and ", rstd.shape());
  for (auto [name, param] : {std::pair{"gamma", &gamma}, std::pair{"beta", &beta}}) {
    BG_CHECK(!param->defined() || param->shape() == Shape{shape.channels}, "group_norm backward: ",
             "expected ", name, " of shape (", shape.channels, "), got ", param->shape());
  }
  BG_CHECK(!addend_input.defined() || addend_input.shape() == x.shape(), "group_norm backward: ",
           "dx_addend ", addend_input.shape(), " does not match the input ", x.shape());
  const Tensor dy = onednn::to_layout_of(dy_input, x);
  const Tensor dx_addend =
      addend_input.defined() ? onednn::to_layout_of(addend_input, x) : Tensor();
  GroupNormGrads grads;
  grads.dx = onednn::empty_like_layout(x);
  grads.dbeta = empty({shape.channels}, x.dtype());
  if (gamma.defined()) grads.dgamma = empty({shape.channels}, x.dtype());
  BG_DISPATCH_FLOAT(x.dtype(), "group_norm backward", [&] {
    group_norm_bwd_blocked<scalar_t>(
        shape, attrs, elements<scalar_t>(dy), elements<scalar_t>(x),
        data_or_null<scalar_t>(gamma), data_or_null<scalar_t>(beta), mean.data<scalar_t>(),
        rstd.data<scalar_t>(), dx_addend.defined() ? elements<scalar_t>(dx_addend) : nullptr,
        mutable_elements<scalar_t>(grads.dx), mutable_data_or_null<scalar_t>(grads.dgamma),
        grads.dbeta.mutable_data<scalar_t>());
  });
  return grads;
}

// w: (O, ...) plain. Returns w_hat like w. Overwrites the output.
Tensor weight_standardize_fwd_cpu(const Tensor& w, double eps) {
  BG_CHECK(w.dim() >= 2 && w.numel() > 0, "weight_standardize: expected a weight of shape ",
           "(O, ...) with at least one element per output channel, got ", w.shape());
  Tensor w_hat = empty_like(w);
  BG_DISPATCH_FLOAT(w.dtype(), "weight_standardize", [&] {
    weight_standardize_fwd_rows<scalar_t>(w.size(0), w.numel() / w.size(0), eps, w.data<scalar_t>(),
                                          w_hat.mutable_data<scalar_t>());
  });
  return w_hat;
}

// dy, w: (O, ...) plain, same shape. Returns dw like w. Overwrites the output.
Tensor weight_standardize_bwd_cpu(const Tensor& dy, const Tensor& w, double eps) {
  BG_CHECK(w.dim() >= 2 && w.numel() > 0 && dy.shape() == w.shape(),
           "weight_standardize backward: expected dy and w of one shape (O, ...), got dy ",
           dy.shape(), " and w ", w.shape());
  BG_CHECK(dy.dtype() == w.dtype(), "weight_standardize backward: dy is ", dtype_name(dy.dtype()),
           " but w is ", dtype_name(w.dtype()));
  Tensor dw = empty_like(w);
  BG_DISPATCH_FLOAT(w.dtype(), "weight_standardize backward", [&] {
    weight_standardize_bwd_rows<scalar_t>(w.size(0), w.numel() / w.size(0), eps,
                                          dy.data<scalar_t>(), w.data<scalar_t>(),
                                          dw.mutable_data<scalar_t>());
  });
  return dw;
}

}  // namespace

BG_REGISTER_LAYOUT_AWARE_KERNEL(GroupNormFwd, kCpu, group_norm_fwd_cpu);
BG_REGISTER_LAYOUT_AWARE_KERNEL(GroupNormBwd, kCpu, group_norm_bwd_cpu);
BG_REGISTER_KERNEL(WeightStandardizeFwd, kCpu, weight_standardize_fwd_cpu);
BG_REGISTER_KERNEL(WeightStandardizeBwd, kCpu, weight_standardize_bwd_cpu);

}  // namespace bitgrad::cpu
