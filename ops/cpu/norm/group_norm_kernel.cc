// GroupNorm kernels for the CPU; the layout and the contract are in norm/group_norm_kernel.h.
//
// The work is split into units: one sample and a run of whole channel blocks holding whole
// groups (lcm(C/G, b) channels; one group for plain NCHW). A unit is contiguous in memory and
// usually fits in L2, so a thread does both passes over it back to back and the second pass
// reads from cache:
//   pass 1:     per-channel sums over S. Forward: x - shift and its square, the shift being the
//               channel's first value. Backward: g and g * (x - mean), g = dy gated under a
//               fused ReLU by the pre-activation, recomputed from x (so y is never read).
//   group step: group statistics (Chan's formula combines the shifted channel moments), then
//               per-channel coefficients; four channels at a time, in double.
//   pass 2:     a per-channel affine map. Forward: y = a * (x - mean) + b, ReLU fused.
//               Backward: dx = a * g + b * (x - mean) + c.
// Centring on the mean inside pass 2 keeps float32 results accurate when |mean| >> std.
//
// The row loops work in 128-byte chunks, a multiple of every channel block, so lane l of a
// chunk always holds channel l % b and the same loop serves every layout (norm/row_chunks.h);
// the passes over one row are in norm/group_norm_rows.h, the units and the group step here.
#include "ops/cpu/norm/group_norm_kernel.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <vector>

#include "core/check.h"
#include "ops/cpu/common/cpu_isa.h"
#include "ops/cpu/norm/group_norm_rows.h"
#include "ops/cpu/norm/row_chunks.h"

namespace bitgrad::cpu {
namespace {

using namespace row_chunks;       // Vec, VecD, load, store, ...
using namespace group_norm_rows;  // the passes over one row: row_shifted_sums, row_affine, ...

// The group step works on per-channel arrays four channels at a time, in double: on small maps
// (1x1, 2x2) it costs more than the rows' arithmetic. A step of `count` < 4 channels (a group's
// last) loads and stores only those; the other lanes are zero.
typedef int64_t VecLane __attribute__((vector_size(32)));
constexpr VecLane kLanes = {0, 1, 2, 3};

template <typename T>
BG_ALWAYS_INLINE void load_doubles(VecD& v, const T* p, int64_t count) {
  if (count < 4) {  // lane by lane: a vector load of values just stored would stall
    v = VecD{};
#pragma GCC unroll 3
    for (int i = 0; i < 3; ++i) {
      if (i < count) v[i] = double(p[i]);
    }
  } else if constexpr (std::is_same_v<T, double>) {
    std::memcpy(&v, p, sizeof v);
  } else {
    Vec4f f;
    std::memcpy(&f, p, sizeof f);
    v = __builtin_convertvector(f, VecD);
  }
}

template <typename T>
BG_ALWAYS_INLINE void store_doubles(T* p, const VecD& v, int64_t count) {
  if (count < 4) {
#pragma GCC unroll 3
    for (int i = 0; i < 3; ++i) {
      if (i < count) p[i] = static_cast<T>(v[i]);
    }
  } else if constexpr (std::is_same_v<T, double>) {
    std::memcpy(p, &v, sizeof v);
  } else {
    const Vec4f f = __builtin_convertvector(v, Vec4f);
    std::memcpy(p, &f, sizeof f);
  }
}

// Channels c to c + count of an optional per-channel parameter (gamma, beta), or `absent` in
// every lane when there is none.
template <typename T>
BG_ALWAYS_INLINE void load_param(VecD& v, const T* param, int64_t c, int64_t count,
                                 double absent) {
  if (param == nullptr) {
    v = VecD{} + absent;
  } else {
    load_doubles(v, param + c, count);
  }
}

// Calls body(c, count) for the channels [first, last), four at a time (count 4), then the rest.
template <typename Body>
BG_ALWAYS_INLINE void for_channels(int64_t first, int64_t last, Body&& body) {
  int64_t c = first;
  for (; c + 4 <= last; c += 4) body(c, 4);
  if (c < last) body(c, last - c);
}

// The sum of the terms of the channels [first, last) of a group: term(c, count, t) sets t to
// those of channels c to c + count. Lane k sums the channels first + k, first + k + 4, ..., and
// the four lanes are added in a fixed order: four independent chains of double adds.
template <typename Term>
BG_ALWAYS_INLINE double sum_over_channels(int64_t first, int64_t last, Term&& term) {
  VecD part = {};
  for_channels(first, last, [&](int64_t c, int64_t count) BG_INLINE_LAMBDA {
    VecD t;
    term(c, count, t);
    part += kLanes < count ? t : VecD{};
  });
  return (part[0] + part[1]) + (part[2] + part[3]);
}

// Extents and the unit split, shared by forward and backward.
struct Plan {
  int64_t batch, channels, padded_channels, spatial, block;
  int64_t groups, group_channels;  // G and C / G
  int64_t unit_channels;           // lcm(C / G, block)
  int64_t units_per_sample;
  double eps;

  Plan(const ChannelBlockedShape& shape, const GroupNormAttrs& attrs, const char* op)
      : batch(shape.batch),
        channels(shape.channels),
        padded_channels(shape.padded_channels()),
        spatial(shape.spatial),
        block(shape.channel_block),
        groups(attrs.groups),
        group_channels(0),
        unit_channels(0),
        units_per_sample(0),
        eps(attrs.eps) {
    BG_CHECK(is_supported_channel_block(block), op, ": channel block ", block,
             " is not supported (expected 1, 8 or 16)");
    BG_CHECK(batch >= 0 && channels >= 0 && spatial >= 0, op,
             ": expected N, C, S >= 0, got N = ", batch, ", C = ", channels, ", S = ", spatial);
    BG_CHECK(groups >= 1 && channels % groups == 0, op, ": ", groups, " groups do not divide the ",
             channels, " channels");
    group_channels = channels / groups;
    if (channels == 0) return;  // nothing to do: zero units
    unit_channels = std::lcm(group_channels, block);
    units_per_sample = (padded_channels + unit_channels - 1) / unit_channels;
  }
  int64_t unit_begin(int64_t unit) const { return unit * unit_channels; }
  int64_t unit_end(int64_t unit) const {
    return std::min(unit_begin(unit) + unit_channels, padded_channels);
  }
  // The groups of a unit, [first_group, end_group): whole groups of its real channels.
  int64_t first_group(int64_t unit) const { return unit_begin(unit) / group_channels; }
  int64_t end_group(int64_t unit) const {
    return std::min(unit_end(unit), channels) / group_channels;
  }
  // Row (n, first channel c of a block): where it starts in a blocked buffer.
  int64_t row_offset(int64_t n, int64_t c) const { return (n * padded_channels + c) * spatial; }
  double group_count() const { return static_cast<double>(group_channels * spatial); }
};

// Per-(n, channel) scratch arrays, each N * Cp long, uninitialised: every unit writes its slice
// before reading it. The memory stays with the calling thread and is reused (kSlot keeps two
// scratches of one type apart); a fresh allocation of this size would be mmapped and
// page-faulted again on every call.
template <typename T, int kSlot>
class Scratch {
 public:
  Scratch(int64_t arrays, int64_t length) : stride_(length) {
    thread_local std::vector<T> buffer;
    if (buffer.size() < static_cast<size_t>(arrays * length)) buffer.resize(arrays * length);
    data_ = buffer.data();
  }
  T* operator[](int64_t i) const { return data_ + i * stride_; }

 private:
  T* data_;
  int64_t stride_;
};

// ---------------------------------------------------------------------------------------------
// Forward.

template <typename T>
struct FwdArgs {
  const Plan& plan;
  const T *x, *gamma, *beta;
  T *y, *mean, *rstd;
  double *sum, *sum_sq;              // (N, Cp): pass-1 sums of x - shift and its square
  T *shift, *scale, *center, *bias;  // (N, Cp)
};

template <typename T, int kBlock, bool kRelu>
BG_ALWAYS_INLINE void fwd_unit(const FwdArgs<T>& a, int64_t n, int64_t unit) {
  const Plan& p = a.plan;
  const int64_t c_begin = p.unit_begin(unit), c_end = p.unit_end(unit), S = p.spatial;
  const int64_t nc = n * p.padded_channels;
  double* sum = a.sum + nc;
  double* sum_sq = a.sum_sq + nc;
  T *shift = a.shift + nc, *scale = a.scale + nc, *center = a.center + nc, *bias = a.bias + nc;

  for (int64_t c = c_begin; c < c_end; c += kBlock) {
    const T* row = a.x + p.row_offset(n, c);
    // Whole-vector copies and fills, which the group step's vector loads can forward from.
    if (S > 0) {
      std::memcpy(shift + c, row, kBlock * sizeof(T));
    } else {
      std::fill(shift + c, shift + c + kBlock, T(0));
    }
    std::fill(sum + c, sum + c + kBlock, 0.0);
    std::fill(sum_sq + c, sum_sq + c + kBlock, 0.0);
    // With one value per channel (1x1 maps) the shifted sums are 0.
    if (S > 1) row_shifted_sums<T, kBlock>(row, S, shift + c, sum + c, sum_sq + c);
  }

  const double count = p.group_count();
  const double inv_spatial = S > 0 ? 1.0 / S : 0.0;
  for (int64_t g = p.first_group(unit); g < p.end_group(unit); ++g) {
    const int64_t first = g * p.group_channels, last = first + p.group_channels;
    double mean = 0, variance = 0;
    if (count > 0) {
      mean = sum_over_channels(first, last, [&](int64_t c, int64_t k, VecD& t) BG_INLINE_LAMBDA {
               VecD channel_shift, channel_sum;
               load_doubles(channel_shift, shift + c, k);
               load_doubles(channel_sum, sum + c, k);
               t = channel_shift * double(S) + channel_sum;
             }) / count;
      // The sum of squared deviations from the group mean.
      const double m2 = sum_over_channels(first, last, [&](int64_t c, int64_t k, VecD& t)
                                                           BG_INLINE_LAMBDA {
        VecD channel_shift, channel_sum, channel_sum_sq;
        load_doubles(channel_shift, shift + c, k);
        load_doubles(channel_sum, sum + c, k);
        load_doubles(channel_sum_sq, sum_sq + c, k);
        const VecD channel_mean = channel_sum * inv_spatial;  // of x - shift
        const VecD deviation = channel_shift + channel_mean - mean;
        t = (channel_sum_sq - channel_sum * channel_mean) + double(S) * deviation * deviation;
      });
      variance = std::max(m2 / count, 0.0);
    }
    const double rstd = 1.0 / std::sqrt(variance + p.eps);
    const T saved_mean = static_cast<T>(mean);
    a.mean[n * p.groups + g] = saved_mean;
    a.rstd[n * p.groups + g] = static_cast<T>(rstd);
    for_channels(first, last, [&](int64_t c, int64_t k) BG_INLINE_LAMBDA {
      VecD gamma, beta;
      load_param(gamma, a.gamma, c, k, 1.0);
      load_param(beta, a.beta, c, k, 0.0);
      const VecD factor = gamma * rstd;
      store_doubles(scale + c, factor, k);
      store_doubles(center + c, VecD{} + double(saved_mean), k);
      // Pass 2 centres on the rounded mean; the bias absorbs the rounding.
      store_doubles(bias + c, beta + factor * (double(saved_mean) - mean), k);
    });
  }
  for (int64_t c = std::max(p.channels, c_begin); c < c_end; ++c) {
    scale[c] = center[c] = bias[c] = T(0);
  }

  for (int64_t c = c_begin; c < c_end; c += kBlock) {
    const int64_t offset = p.row_offset(n, c);
    row_affine<T, kBlock, kRelu>(a.x + offset, a.y + offset, S, scale + c, center + c, bias + c);
    if (c + kBlock > p.channels) zero_padding<T, kBlock>(a.y + offset, S, p.channels - c);
  }
}

// ---------------------------------------------------------------------------------------------
// Backward.

template <typename T>
struct BwdArgs {
  const Plan& plan;
  const T *dy, *x, *gamma, *beta, *mean, *rstd;
  const T* dx_addend;  // or null
  T* dx;
  double *sum_g, *sum_gx;  // (N, Cp): pass-1 sums of g and g * (x - mean); dgamma/dbeta use them
  T *center, *coef_a, *coef_b, *coef_c;  // (N, Cp)
  T *relu_scale, *relu_bias;             // (N, Cp): the ReLU gate's pre-activation coefficients
};

template <typename T, int kBlock, bool kRelu>
BG_ALWAYS_INLINE void bwd_unit(const BwdArgs<T>& a, int64_t n, int64_t unit) {
  const Plan& p = a.plan;
  const int64_t c_begin = p.unit_begin(unit), c_end = p.unit_end(unit), S = p.spatial;
  const int64_t nc = n * p.padded_channels;
  double* sum_g = a.sum_g + nc;
  double* sum_gx = a.sum_gx + nc;
  T *center = a.center + nc, *coef_a = a.coef_a + nc, *coef_b = a.coef_b + nc,
    *coef_c = a.coef_c + nc, *relu_scale = a.relu_scale + nc, *relu_bias = a.relu_bias + nc;

  const int64_t g_begin = p.first_group(unit), g_end = p.end_group(unit);
  for (int64_t g = g_begin; g < g_end; ++g) {
    const int64_t first = g * p.group_channels, last = first + p.group_channels;
    const T group_mean = a.mean[n * p.groups + g];
    const double group_rstd = a.rstd[n * p.groups + g];
    for_channels(first, last, [&](int64_t c, int64_t k) BG_INLINE_LAMBDA {
      store_doubles(center + c, VecD{} + double(group_mean), k);
      if constexpr (kRelu) {  // without the ReLU the gate is never read
        VecD gamma, beta;
        load_param(gamma, a.gamma, c, k, 1.0);
        load_param(beta, a.beta, c, k, 0.0);
        store_doubles(relu_scale + c, gamma * group_rstd, k);
        store_doubles(relu_bias + c, beta, k);
      }
    });
  }
  for (int64_t c = std::max(p.channels, c_begin); c < c_end; ++c) {  // padding lanes
    center[c] = relu_scale[c] = relu_bias[c] = T(0);
  }

  for (int64_t c = c_begin; c < c_end; c += kBlock) {
    std::fill(sum_g + c, sum_g + c + kBlock, 0.0);
    std::fill(sum_gx + c, sum_gx + c + kBlock, 0.0);
    const int64_t offset = p.row_offset(n, c);
    const ReluGate<T, kBlock> gate(relu_scale + c, relu_bias + c);
    if (kBlock > 1 && S == 1) {  // a blocked row of one value per channel
      row_grad_terms<T, kBlock, kRelu>(a.dy + offset, a.x + offset, center + c, gate, sum_g + c,
                                       sum_gx + c);
    } else {
      row_grad_sums<T, kBlock, kRelu>(a.dy + offset, a.x + offset, S, center + c, gate, sum_g + c,
                                      sum_gx + c);
    }
  }

  // dx = rstd * (gamma * g - mean(gamma * g) - xhat * mean(gamma * g * xhat)), xhat = (x - mean)
  // * rstd, means over the group; written as a * g + b * (x - mean) + c.
  const double count = p.group_count();
  for (int64_t g = g_begin; g < g_end; ++g) {
    const int64_t first = g * p.group_channels, last = first + p.group_channels;
    const double rstd = a.rstd[n * p.groups + g];
    double mean_dxhat = 0, mean_dxhat_xhat = 0;
    // The term gamma * per_channel of sum_over_channels.
    auto gamma_times = [&](const double* per_channel) {
      return [&a, per_channel](int64_t c, int64_t k, VecD& t) BG_INLINE_LAMBDA {
        VecD gamma;
        load_param(gamma, a.gamma, c, k, 1.0);
        load_doubles(t, per_channel + c, k);
        t *= gamma;
      };
    };
    if (count > 0) {
      mean_dxhat = sum_over_channels(first, last, gamma_times(sum_g)) / count;
      mean_dxhat_xhat = sum_over_channels(first, last, gamma_times(sum_gx)) * (rstd / count);
    }
    const VecD b = VecD{} + (-rstd * rstd * mean_dxhat_xhat);
    const VecD c_term = VecD{} + (-rstd * mean_dxhat);
    for_channels(first, last, [&](int64_t c, int64_t k) BG_INLINE_LAMBDA {
      VecD gamma;
      load_param(gamma, a.gamma, c, k, 1.0);
      store_doubles(coef_a + c, rstd * gamma, k);
      store_doubles(coef_b + c, b, k);
      store_doubles(coef_c + c, c_term, k);
    });
  }
  for (int64_t c = std::max(p.channels, c_begin); c < c_end; ++c) {
    coef_a[c] = coef_b[c] = coef_c[c] = T(0);
  }

  for (int64_t c = c_begin; c < c_end; c += kBlock) {
    const int64_t offset = p.row_offset(n, c);
    const ReluGate<T, kBlock> gate(relu_scale + c, relu_bias + c);
    if (a.dx_addend != nullptr) {
      row_grad_apply<T, kBlock, kRelu, true>(a.dy + offset, a.x + offset, a.dx_addend + offset,
                                             a.dx + offset, S, coef_a + c, coef_b + c, coef_c + c,
                                             center + c, gate);
    } else {
      row_grad_apply<T, kBlock, kRelu, false>(a.dy + offset, a.x + offset, nullptr, a.dx + offset,
                                              S, coef_a + c, coef_b + c, coef_c + c, center + c,
                                              gate);
    }
    if (c + kBlock > p.channels) zero_padding<T, kBlock>(a.dx + offset, S, p.channels - c);
  }
}

// ---------------------------------------------------------------------------------------------
// Picking the compiled variant.

// Calls fn(block, relu) with both as compile-time constants (std::integral_constant).
template <typename Fn>
auto with_block_and_relu(int64_t block, bool relu, Fn&& fn) {
  auto with_relu = [&](auto block_constant) {
    return relu ? fn(block_constant, std::true_type{}) : fn(block_constant, std::false_type{});
  };
  switch (block) {
    case 1:
      return with_relu(std::integral_constant<int, 1>{});
    case 8:
      return with_relu(std::integral_constant<int, 8>{});
    default:
      return with_relu(std::integral_constant<int, 16>{});  // Plan checked the block
  }
}

// The unit function for a block size and ReLU flag, compiled for the active ISA.
template <typename Args>
using UnitFn = void (*)(const Args&, int64_t n, int64_t unit);

template <typename T>
UnitFn<FwdArgs<T>> select_fwd_unit(int64_t block, bool relu) {
  return with_block_and_relu(block, relu, [](auto kBlock, auto kRelu) {
    return for_active_isa<&fwd_unit<T, decltype(kBlock)::value, decltype(kRelu)::value>>();
  });
}

template <typename T>
UnitFn<BwdArgs<T>> select_bwd_unit(int64_t block, bool relu) {
  return with_block_and_relu(block, relu, [](auto kBlock, auto kRelu) {
    return for_active_isa<&bwd_unit<T, decltype(kBlock)::value, decltype(kRelu)::value>>();
  });
}

}  // namespace

int64_t ChannelBlockedShape::padded_channels() const {
  return (channels + channel_block - 1) / channel_block * channel_block;
}

int64_t ChannelBlockedShape::padded_numel() const { return batch * padded_channels() * spatial; }

bool is_supported_channel_block(int64_t block) { return block == 1 || block == 8 || block == 16; }

template <typename T>
void group_norm_fwd_blocked(const ChannelBlockedShape& shape, const GroupNormAttrs& attrs,
                            const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd) {
  const Plan plan(shape, attrs, "group_norm");
  const int64_t per_sample = plan.units_per_sample;
  const Scratch<double, 0> sums(2, plan.batch * plan.padded_channels);
  const Scratch<T, 1> coefs(4, plan.batch * plan.padded_channels);
  const FwdArgs<T> args{plan,    x,       gamma,    beta,     y,        mean,    rstd,
                        sums[0], sums[1], coefs[0], coefs[1], coefs[2], coefs[3]};
  const UnitFn<FwdArgs<T>> unit = select_fwd_unit<T>(plan.block, attrs.relu);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < plan.batch * per_sample; ++i) unit(args, i / per_sample, i % per_sample);
}

template <typename T>
void group_norm_bwd_blocked(const ChannelBlockedShape& shape, const GroupNormAttrs& attrs,
                            const T* dy, const T* x, const T* gamma, const T* beta, const T* mean,
                            const T* rstd, const T* dx_addend, T* dx, T* dgamma, T* dbeta) {
  const Plan plan(shape, attrs, "group_norm backward");
  const int64_t per_sample = plan.units_per_sample;
  const Scratch<double, 0> sums(2, plan.batch * plan.padded_channels);
  const Scratch<T, 1> coefs(6, plan.batch * plan.padded_channels);
  const BwdArgs<T> args{plan,     dy,        x,        gamma,    beta,     mean,
                        rstd,     dx_addend, dx,       sums[0],  sums[1],  coefs[0],
                        coefs[1], coefs[2],  coefs[3], coefs[4], coefs[5]};
  const UnitFn<BwdArgs<T>> unit = select_bwd_unit<T>(plan.block, attrs.relu);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < plan.batch * per_sample; ++i) unit(args, i / per_sample, i % per_sample);

  // dbeta[c] = sum_n sum(g), dgamma[c] = sum_n rstd * sum(g * (x - mean)), each over n in
  // order. A thread takes a run of whole groups and walks each sample's sums along the run's
  // channels: contiguous loads and independent add chains, where a loop over n per channel
  // strides through memory and waits on one chain.
  const int64_t Cp = plan.padded_channels, G = plan.groups, group_channels = plan.group_channels;
  // Runs of about 64 channels, and at least one per thread.
  const int64_t groups_per_run = std::max<int64_t>(
      1, std::min<int64_t>(64 / std::max<int64_t>(1, group_channels), G / omp_get_max_threads()));
#pragma omp parallel for schedule(static)
  for (int64_t first_group = 0; first_group < G; first_group += groups_per_run) {
    const int64_t c_begin = first_group * group_channels;
    const int64_t c_end = std::min(G, first_group + groups_per_run) * group_channels;
    std::vector<double> total_g(c_end - c_begin, 0.0), total_gxhat(c_end - c_begin, 0.0);
    for (int64_t n = 0; n < plan.batch; ++n) {
      const double* row_g = args.sum_g + n * Cp;
      const double* row_gx = args.sum_gx + n * Cp;
      for (int64_t first = c_begin; first < c_end; first += group_channels) {
        const double group_rstd = rstd[n * G + first / group_channels];
        for (int64_t c = first; c < first + group_channels; ++c) {
          total_g[c - c_begin] += row_g[c];
          total_gxhat[c - c_begin] += group_rstd * row_gx[c];
        }
      }
    }
    for (int64_t c = c_begin; c < c_end; ++c) {
      dbeta[c] = static_cast<T>(total_g[c - c_begin]);
      if (dgamma) dgamma[c] = static_cast<T>(total_gxhat[c - c_begin]);
    }
  }
}

template void group_norm_fwd_blocked<float>(const ChannelBlockedShape&, const GroupNormAttrs&,
                                            const float*, const float*, const float*, float*,
                                            float*, float*);
template void group_norm_fwd_blocked<double>(const ChannelBlockedShape&, const GroupNormAttrs&,
                                             const double*, const double*, const double*, double*,
                                             double*, double*);
template void group_norm_bwd_blocked<float>(const ChannelBlockedShape&, const GroupNormAttrs&,
                                            const float*, const float*, const float*, const float*,
                                            const float*, const float*, const float*, float*,
                                            float*, float*);
template void group_norm_bwd_blocked<double>(const ChannelBlockedShape&, const GroupNormAttrs&,
                                             const double*, const double*, const double*,
                                             const double*, const double*, const double*,
                                             const double*, double*, double*, double*);

}  // namespace bitgrad::cpu
