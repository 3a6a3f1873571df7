// Vectorised per-channel loops over the rows of a channel-blocked buffer (the layout is in
// norm/group_norm_kernel.h): the building blocks of the GroupNorm kernel's passes. Everything
// is BG_ALWAYS_INLINE, so it compiles into the caller's ISA variant (common/cpu_isa.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "ops/cpu/common/cpu_isa.h"

namespace bitgrad::cpu::row_chunks {

// A chunk is 128 bytes of a row: four 32-byte vectors (GCC vector extensions; AVX2 registers
// in the AVX2 build, pairs of SSE registers in the portable one). Four independent accumulators
// hide the add latency. A chunk holds a multiple of every channel block, so every chunk of a row
// starts at channel 0 of the block, and element i of a row belongs to channel i % kBlock.
template <typename T>
struct Vec32;
template <>
struct Vec32<float> {
  typedef float type __attribute__((vector_size(32)));
};
template <>
struct Vec32<double> {
  typedef double type __attribute__((vector_size(32)));
};
template <typename T>
using Vec = typename Vec32<T>::type;
template <typename T>
constexpr int kWidth = 32 / sizeof(T);  // values per vector
constexpr int kVecsPerChunk = 4;
template <typename T>
constexpr int kChunk = kVecsPerChunk* kWidth<T>;  // values per chunk: 32 float, 16 double
// Chunks summed in T before the partial sums are flushed into double.
constexpr int64_t kFlushEvery = 16;

// Per-channel values of a row's block spread over vectors: lane l of vector v holds channel
// (v * kWidth + l) % kBlock. Block 1 broadcasts; wider blocks (a multiple of the vector width)
// need kBlock / kWidth distinct vectors, repeating through the chunk.
template <typename T, int kBlock>
constexpr int kDistinctVecs = kBlock > kWidth<T> ? kBlock / kWidth<T> : 1;

// The per-channel arrays were just written by the group step, 16 bytes at a time
// (group_norm_kernel.cc), so each vector is loaded in two 16-byte halves: a 32-byte load that
// spans two recent stores cannot take its data from the store buffer, and waits for both to
// reach the cache. On 1x1 and 2x2 maps those stalls cost more than the rows' arithmetic.
template <typename T, int kBlock>
BG_ALWAYS_INLINE void spread(const T* per_channel, Vec<T>* vecs) {
  static_assert(kBlock == 1 || kBlock % kWidth<T> == 0, "blocks are 1 or whole vectors");
  if constexpr (kBlock == 1) {
    vecs[0] = Vec<T>{} + per_channel[0];
  } else {
#pragma GCC unroll 4
    for (int v = 0; v < kDistinctVecs<T, kBlock>; ++v) {
      typedef T Half __attribute__((vector_size(16)));
      Half low, high;
      std::memcpy(&low, per_channel + v * kWidth<T>, sizeof low);
      std::memcpy(&high, per_channel + v * kWidth<T> + kWidth<T> / 2, sizeof high);
      if constexpr (std::is_same_v<T, float>) {
        vecs[v] = __builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7);
      } else {
        vecs[v] = __builtin_shufflevector(low, high, 0, 1, 2, 3);
      }
    }
  }
}

// Sets vectors to zero one by one. Every loop over a chunk's vectors is unrolled so the arrays
// of vectors live in registers; an array initialiser `= {}` would become a `rep stos`, whose
// start-up cost dominates short rows.
template <typename V, int kCount>
BG_ALWAYS_INLINE void zero(V (&vecs)[kCount]) {
#pragma GCC unroll 16
  for (int i = 0; i < kCount; ++i) vecs[i] = V{};
}

// Per-lane totals of a chunk in double: kChunk / 4 vectors of 4 doubles.
using VecD = Vec<double>;
template <typename T>
constexpr int kDoubleVecs = kChunk<T> / 4;

typedef float Vec4f __attribute__((vector_size(16)));  // half a float vector
template <typename T>
constexpr int kDoublesPerVec = kWidth<T> / 4;  // VecD per Vec<T>: 2 for float, 1 for double

// The values of v as doubles, in order: out[0, kDoublesPerVec<T>).
template <typename T>
BG_ALWAYS_INLINE void to_doubles(const Vec<T>& v, VecD* out) {
  if constexpr (std::is_same_v<T, double>) {
    out[0] = v;
  } else {
    const Vec4f low = __builtin_shufflevector(v, v, 0, 1, 2, 3);
    const Vec4f high = __builtin_shufflevector(v, v, 4, 5, 6, 7);
    out[0] = __builtin_convertvector(low, VecD);
    out[1] = __builtin_convertvector(high, VecD);
  }
}

// Adds a chunk's partial sums (four vectors of T) into the double totals, lane by lane.
template <typename T>
BG_ALWAYS_INLINE void flush(const Vec<T>* part, VecD* total) {
#pragma GCC unroll 4
  for (int v = 0; v < kVecsPerChunk; ++v) {
    VecD doubles[kDoublesPerVec<T>];
    to_doubles<T>(part[v], doubles);
#pragma GCC unroll 2
    for (int i = 0; i < kDoublesPerVec<T>; ++i) total[v * kDoublesPerVec<T> + i] += doubles[i];
  }
}

// Adds the double totals into their channels: chunk lane j (vector j / 4) is channel
// j % kBlock, so vectors whose lanes hold the same channels are summed first.
template <typename T, int kBlock>
BG_ALWAYS_INLINE void fold(VecD* total, double* per_channel) {
  static_assert(kBlock == 1 || kBlock % 4 == 0, "blocks are 1 or whole double vectors");
  constexpr int kPatterns = kBlock >= 4 ? kBlock / 4 : 1;
#pragma GCC unroll 8
  for (int u = kPatterns; u < kDoubleVecs<T>; ++u) total[u % kPatterns] += total[u];
  if constexpr (kBlock == 1) {
#pragma GCC unroll 4
    for (int l = 0; l < 4; ++l) per_channel[0] += total[0][l];
  } else {
    // Lane by lane as above, in whole vectors: the group step loads these sums as vectors, and
    // a vector load of four scalar stores would wait for them to reach the cache (see spread).
#pragma GCC unroll 4
    for (int u = 0; u < kPatterns; ++u) {
      VecD sums;
      std::memcpy(&sums, per_channel + u * 4, sizeof sums);
      sums += total[u];
      std::memcpy(per_channel + u * 4, &sums, sizeof sums);
    }
  }
}

// Unaligned vector load and store. Vectors never pass by value between functions, whose ABI
// would differ between the portable and the AVX2 build.
template <typename T>
BG_ALWAYS_INLINE void load(Vec<T>& v, const T* p) {
  std::memcpy(&v, p, sizeof v);
}

template <typename T>
BG_ALWAYS_INLINE void store(T* p, const Vec<T>& v) {
  std::memcpy(p, &v, sizeof v);
}

// A row's last, partial chunk (rest < kChunk values) copied into a full one whose other lanes
// hold `fill` (vectors spread per channel; zeros if null), chosen so that they add nothing. Rows
// of any length then run the same vector code: plain rows of 7x7 or 4x4 are all tail.
template <typename T, int kBlock>
struct PaddedChunk {
  T values[kChunk<T>];
  PaddedChunk(const T* row_tail, int64_t rest, const Vec<T>* fill) {
#pragma GCC unroll 4
    for (int v = 0; v < kVecsPerChunk; ++v) {
      store(values + v * kWidth<T>, fill ? fill[v % kDistinctVecs<T, kBlock>] : Vec<T>{});
    }
    std::memcpy(values, row_tail, rest * sizeof(T));
  }
};

// Two per-channel sums over one row of `length` values (a channel block of one sample) into
// sum_a[0, kBlock) and sum_b[0, kBlock). add_chunk(offset, part_a, part_b) adds the chunk at
// `offset`; add_tail(offset, rest, part_a, part_b) the last, partial one. The partial sums in T
// go into double every kFlushEvery chunks, which bounds their rounding error.
template <typename T, int kBlock, typename AddChunk, typename AddTail>
BG_ALWAYS_INLINE void row_sum_pair(int64_t length, AddChunk&& add_chunk, AddTail&& add_tail,
                                   double* sum_a, double* sum_b) {
  Vec<T> part_a[kVecsPerChunk], part_b[kVecsPerChunk];
  VecD total_a[kDoubleVecs<T>], total_b[kDoubleVecs<T>];
  zero(total_a);
  zero(total_b);
  const int64_t chunks = length / kChunk<T>;
  for (int64_t begin = 0; begin < chunks; begin += kFlushEvery) {
    const int64_t end = std::min(chunks, begin + kFlushEvery);
    zero(part_a);
    zero(part_b);
    for (int64_t chunk = begin; chunk < end; ++chunk) add_chunk(chunk * kChunk<T>, part_a, part_b);
    flush<T>(part_a, total_a);
    flush<T>(part_b, total_b);
  }
  if (const int64_t rest = length - chunks * kChunk<T>; rest > 0) {
    zero(part_a);
    zero(part_b);
    add_tail(chunks * kChunk<T>, rest, part_a, part_b);
    flush<T>(part_a, total_a);
    flush<T>(part_b, total_b);
  }
  fold<T, kBlock>(total_a, sum_a);
  fold<T, kBlock>(total_b, sum_b);
}

}  // namespace bitgrad::cpu::row_chunks
