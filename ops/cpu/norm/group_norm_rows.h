// The GroupNorm CPU kernel's passes over one row of a channel-blocked buffer (a sample's run of
// one block's channels over the spatial positions; layout in norm/group_norm_kernel.h), built
// from the chunk loops of norm/row_chunks.h. norm/group_norm_kernel.cc says how the passes make
// the forward and the backward. Everything is BG_ALWAYS_INLINE, so it compiles into the
// caller's ISA variant (common/cpu_isa.h).
#pragma once

#include <cstdint>
#include <cstring>

#include "ops/cpu/common/cpu_isa.h"
#include "ops/cpu/norm/row_chunks.h"

namespace bitgrad::cpu::group_norm_rows {

using namespace row_chunks;

// Forward pass 1, one chunk: part += x - shift, part_sq += (x - shift)^2.
template <typename T, int kBlock>
BG_ALWAYS_INLINE void shifted_sums_chunk(const T* x, const Vec<T>* shift, Vec<T>* part,
                                         Vec<T>* part_sq) {
#pragma GCC unroll 4
  for (int v = 0; v < kVecsPerChunk; ++v) {
    Vec<T> d;
    load(d, x + v * kWidth<T>);
    d -= shift[v % kDistinctVecs<T, kBlock>];
    part[v] += d;
    part_sq[v] += d * d;
  }
}

// Forward pass 1 over one row: adds sum(x - shift) and sum((x - shift)^2) per channel.
template <typename T, int kBlock>
BG_ALWAYS_INLINE void row_shifted_sums(const T* x, int64_t spatial, const T* shift, double* sum,
                                       double* sum_sq) {
  using V = Vec<T>;
  V shift_v[kDistinctVecs<T, kBlock>];
  spread<T, kBlock>(shift, shift_v);
  row_sum_pair<T, kBlock>(
      spatial * kBlock,
      [&](int64_t offset, V* part, V* part_sq) BG_INLINE_LAMBDA {
        shifted_sums_chunk<T, kBlock>(x + offset, shift_v, part, part_sq);
      },
      [&](int64_t offset, int64_t rest, V* part, V* part_sq) BG_INLINE_LAMBDA {
        // Padding: x = shift adds nothing.
        const PaddedChunk<T, kBlock> tail(x + offset, rest, shift_v);
        shifted_sums_chunk<T, kBlock>(tail.values, shift_v, part, part_sq);
      },
      sum, sum_sq);
}

// Forward pass 2, one vector: y = relu?(a * (x - m) + b), a, m and b per channel.
template <typename T, bool kRelu>
BG_ALWAYS_INLINE void affine_vec(const T* x, T* y, const Vec<T>& a, const Vec<T>& m,
                                 const Vec<T>& b) {
  Vec<T> value;
  load(value, x);
  value = a * (value - m) + b;
  if constexpr (kRelu) value = value > Vec<T>{} ? value : Vec<T>{};
  store(y, value);
}

// Forward pass 2, one chunk.
template <typename T, int kBlock, bool kRelu>
BG_ALWAYS_INLINE void affine_chunk(const T* x, T* y, const Vec<T>* a, const Vec<T>* m,
                                   const Vec<T>* b) {
#pragma GCC unroll 4
  for (int v = 0; v < kVecsPerChunk; ++v) {
    const int k = v % kDistinctVecs<T, kBlock>;
    affine_vec<T, kRelu>(x + v * kWidth<T>, y + v * kWidth<T>, a[k], m[k], b[k]);
  }
}

// Forward pass 2 over one row: y = relu?(scale * (x - center) + bias), per channel.
template <typename T, int kBlock, bool kRelu>
BG_ALWAYS_INLINE void row_affine(const T* x, T* y, int64_t spatial, const T* scale, const T* center,
                                 const T* bias) {
  using V = Vec<T>;
  V a[kDistinctVecs<T, kBlock>], m[kDistinctVecs<T, kBlock>], b[kDistinctVecs<T, kBlock>];
  spread<T, kBlock>(scale, a);
  spread<T, kBlock>(center, m);
  spread<T, kBlock>(bias, b);
  const int64_t length = spatial * kBlock, chunks = length / kChunk<T>;
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    affine_chunk<T, kBlock, kRelu>(x + chunk * kChunk<T>, y + chunk * kChunk<T>, a, m, b);
  }
  // Whole vectors after the last whole chunk (all of a short row's, as on 1x1 maps) need no
  // padding; only a plain row (block 1) can end inside a vector.
  int64_t offset = chunks * kChunk<T>;
  constexpr int kDistinct = kDistinctVecs<T, kBlock>;
  for (int k = 0; offset + kWidth<T> <= length; offset += kWidth<T>, k = (k + 1) % kDistinct) {
    affine_vec<T, kRelu>(x + offset, y + offset, a[k], m[k], b[k]);
  }
  if (const int64_t rest = length - offset; rest > 0) {
    PaddedChunk<T, kBlock> tail(x + offset, rest, nullptr);
    affine_chunk<T, kBlock, kRelu>(tail.values, tail.values, a, m, b);
    std::memcpy(y + offset, tail.values, rest * sizeof(T));
  }
}

// Under a fused ReLU, backward gates dy by the forward's pre-activation
//   scale * (x - mean) + beta > 0,   scale = gamma * rstd,
// recomputed from x, which backward reads anyway: reading y instead would cost a stream.
template <typename T, int kBlock>
struct ReluGate {
  Vec<T> scale[kDistinctVecs<T, kBlock>], bias[kDistinctVecs<T, kBlock>];
  ReluGate(const T* per_channel_scale, const T* per_channel_bias) {
    spread<T, kBlock>(per_channel_scale, scale);
    spread<T, kBlock>(per_channel_bias, bias);
  }
};

// g = dy[offset...] as a vector, zeroed under a fused ReLU where the pre-activation of x
// (vector xv, centred on m) is <= 0.
template <typename T, int kBlock, bool kRelu>
BG_ALWAYS_INLINE void load_gated(Vec<T>& g, const T* dy, int64_t offset, const Vec<T>& xv,
                                 const Vec<T>& m, const ReluGate<T, kBlock>& gate, int k) {
  load(g, dy + offset);
  if constexpr (kRelu) {
    const Vec<T> pre = gate.scale[k] * (xv - m) + gate.bias[k];
    g = pre > Vec<T>{} ? g : Vec<T>{};
  }
}

// Stores the values of vector v as doubles at p.
template <typename T>
BG_ALWAYS_INLINE void store_as_doubles(double* p, const Vec<T>& v) {
  VecD doubles[kDoublesPerVec<T>];
  to_doubles<T>(v, doubles);
  std::memcpy(p, doubles, sizeof doubles);
}

// Backward pass 1, one chunk: part_g += g, part_gx += g * (x - m).
template <typename T, int kBlock, bool kRelu>
BG_ALWAYS_INLINE void grad_sums_chunk(const T* dy, const T* x, const Vec<T>* m,
                                      const ReluGate<T, kBlock>& gate, Vec<T>* part_g,
                                      Vec<T>* part_gx) {
#pragma GCC unroll 4
  for (int v = 0; v < kVecsPerChunk; ++v) {
    const int64_t offset = v * kWidth<T>;
    const int k = v % kDistinctVecs<T, kBlock>;
    Vec<T> g, xv;
    load(xv, x + offset);
    load_gated<T, kBlock, kRelu>(g, dy, offset, xv, m[k], gate, k);
    part_g[v] += g;
    part_gx[v] += g * (xv - m[k]);
  }
}

// Backward pass 1 over one row: adds sum(g) and sum(g * (x - center)) per channel.
template <typename T, int kBlock, bool kRelu>
BG_ALWAYS_INLINE void row_grad_sums(const T* dy, const T* x, int64_t spatial, const T* center,
                                    const ReluGate<T, kBlock>& gate, double* sum_g,
                                    double* sum_gx) {
  using V = Vec<T>;
  V m[kDistinctVecs<T, kBlock>];
  spread<T, kBlock>(center, m);
  row_sum_pair<T, kBlock>(
      spatial * kBlock,
      [&](int64_t offset, V* part_g, V* part_gx) BG_INLINE_LAMBDA {
        grad_sums_chunk<T, kBlock, kRelu>(dy + offset, x + offset, m, gate, part_g, part_gx);
      },
      [&](int64_t offset, int64_t rest, V* part_g, V* part_gx) BG_INLINE_LAMBDA {
        // Padding: dy = 0 adds nothing whatever x holds.
        const PaddedChunk<T, kBlock> dy_tail(dy + offset, rest, nullptr),
            x_tail(x + offset, rest, nullptr);
        grad_sums_chunk<T, kBlock, kRelu>(dy_tail.values, x_tail.values, m, gate, part_g,
                                          part_gx);
      },
      sum_g, sum_gx);
}

// Backward pass 1 over a blocked row (kBlock > 1) of one value per channel (1x1 maps): the sums
// are the terms, g and g * (x - m), one vector of channels at a time.
template <typename T, int kBlock, bool kRelu>
BG_ALWAYS_INLINE void row_grad_terms(const T* dy, const T* x, const T* center,
                                     const ReluGate<T, kBlock>& gate, double* sum_g,
                                     double* sum_gx) {
  Vec<T> m[kDistinctVecs<T, kBlock>];
  spread<T, kBlock>(center, m);
  for (int k = 0; k < kDistinctVecs<T, kBlock>; ++k) {
    const int64_t offset = k * kWidth<T>;
    Vec<T> g, xv;
    load(xv, x + offset);
    load_gated<T, kBlock, kRelu>(g, dy, offset, xv, m[k], gate, k);
    store_as_doubles<T>(sum_g + offset, g);
    store_as_doubles<T>(sum_gx + offset, g * (xv - m[k]));
  }
}

// Backward pass 2, one vector: dx = a * g + b * (x - m) + c, plus the addend when there is one.
template <typename T, int kBlock, bool kRelu, bool kAddend>
BG_ALWAYS_INLINE void grad_apply_vec(const T* dy, const T* x, const T* addend, T* dx,
                                     const Vec<T>& a, const Vec<T>& b, const Vec<T>& c,
                                     const Vec<T>& m, const ReluGate<T, kBlock>& gate, int k) {
  Vec<T> g, xv;
  load(xv, x);
  load_gated<T, kBlock, kRelu>(g, dy, 0, xv, m, gate, k);
  Vec<T> result = a * g + b * (xv - m) + c;
  if constexpr (kAddend) {
    Vec<T> addend_v;
    load(addend_v, addend);
    result += addend_v;
  }
  store(dx, result);
}

// Backward pass 2, one chunk.
template <typename T, int kBlock, bool kRelu, bool kAddend>
BG_ALWAYS_INLINE void grad_apply_chunk(const T* dy, const T* x, const T* addend, T* dx,
                                       const Vec<T>* a, const Vec<T>* b, const Vec<T>* c,
                                       const Vec<T>* m, const ReluGate<T, kBlock>& gate) {
#pragma GCC unroll 4
  for (int v = 0; v < kVecsPerChunk; ++v) {
    const int64_t offset = v * kWidth<T>;
    const int k = v % kDistinctVecs<T, kBlock>;
    grad_apply_vec<T, kBlock, kRelu, kAddend>(dy + offset, x + offset,
                                              kAddend ? addend + offset : nullptr, dx + offset,
                                              a[k], b[k], c[k], m[k], gate, k);
  }
}

// Backward pass 2 over one row: dx = a * g + b * (x - center) + c (+ addend), per channel.
template <typename T, int kBlock, bool kRelu, bool kAddend>
BG_ALWAYS_INLINE void row_grad_apply(const T* dy, const T* x, const T* addend, T* dx,
                                     int64_t spatial,
                                     const T* coef_a, const T* coef_b, const T* coef_c,
                                     const T* center, const ReluGate<T, kBlock>& gate) {
  using V = Vec<T>;
  constexpr int kDistinct = kDistinctVecs<T, kBlock>;
  V a[kDistinct], b[kDistinct], c[kDistinct], m[kDistinct];
  spread<T, kBlock>(coef_a, a);
  spread<T, kBlock>(coef_b, b);
  spread<T, kBlock>(coef_c, c);
  spread<T, kBlock>(center, m);
  const int64_t length = spatial * kBlock, chunks = length / kChunk<T>;
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    const int64_t offset = chunk * kChunk<T>;
    grad_apply_chunk<T, kBlock, kRelu, kAddend>(dy + offset, x + offset,
                                                kAddend ? addend + offset : nullptr, dx + offset, a,
                                                b, c, m, gate);
  }
  // Whole vectors after the last whole chunk, then a plain row's partial vector (as row_affine).
  int64_t offset = chunks * kChunk<T>;
  for (int k = 0; offset + kWidth<T> <= length; offset += kWidth<T>, k = (k + 1) % kDistinct) {
    grad_apply_vec<T, kBlock, kRelu, kAddend>(dy + offset, x + offset,
                                              kAddend ? addend + offset : nullptr, dx + offset,
                                              a[k], b[k], c[k], m[k], gate, k);
  }
  if (const int64_t rest = length - offset; rest > 0) {
    const PaddedChunk<T, kBlock> dy_tail(dy + offset, rest, nullptr),
        x_tail(x + offset, rest, nullptr);
    const PaddedChunk<T, kBlock> addend_tail(kAddend ? addend + offset : dy, kAddend ? rest : 0,
                                             nullptr);
    T dx_tail[kChunk<T>];
    grad_apply_chunk<T, kBlock, kRelu, kAddend>(dy_tail.values, x_tail.values, addend_tail.values,
                                                dx_tail, a, b, c, m, gate);
    std::memcpy(dx + offset, dx_tail, rest * sizeof(T));
  }
}

// Sets the padding lanes [first, kBlock) of a row to 0. Their coefficients are already 0; this
// keeps the padding exactly 0 even if the input's padding holds garbage.
template <typename T, int kBlock>
BG_ALWAYS_INLINE void zero_padding(T* row, int64_t spatial, int64_t first) {
  for (int64_t s = 0; s < spatial; ++s) {
    for (int64_t l = first; l < kBlock; ++l) row[s * kBlock + l] = T(0);
  }
}

}  // namespace bitgrad::cpu::group_norm_rows
