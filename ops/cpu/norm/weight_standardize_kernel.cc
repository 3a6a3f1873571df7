// Weight Standardization kernels for the CPU; the contract is in norm/weight_standardize_kernel.h.
// Weights are small next to activations (a few MB per layer), so these are plain OpenMP loops
// over rows with `omp simd` reductions in double, compiled for the baseline ISA and AVX2+FMA.
#include "ops/cpu/norm/weight_standardize_kernel.h"

#include <cmath>

#include "core/check.h"
#include "ops/cpu/common/cpu_isa.h"
#include "ops/cpu/common/parallel.h"

namespace bitgrad::cpu {
namespace {

struct RowStats {
  double mean, rstd;
};

// Two-pass (centred) mean and 1 / sqrt(biased variance + eps) of one row, in double.
template <typename T>
BG_ALWAYS_INLINE RowStats row_stats(const T* w, int64_t cols, double eps) {
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < cols; ++i) sum += w[i];
  const double mean = sum / cols;
  double sum_sq = 0;
#pragma omp simd reduction(+ : sum_sq)
  for (int64_t i = 0; i < cols; ++i) {
    const double centred = w[i] - mean;
    sum_sq += centred * centred;
  }
  return {mean, 1.0 / std::sqrt(sum_sq / cols + eps)};
}

// One row of the forward: out = (w - mean) * rstd.
template <typename T>
BG_ALWAYS_INLINE void fwd_row(int64_t cols, double eps, const T* w, T* out) {
  const RowStats stats = row_stats(w, cols, eps);
#pragma omp simd
  for (int64_t i = 0; i < cols; ++i) out[i] = static_cast<T>((w[i] - stats.mean) * stats.rstd);
}

// One row of the backward: out = rstd * (g - mean(g) - xhat * mean(g * xhat)).
template <typename T>
BG_ALWAYS_INLINE void bwd_row(int64_t cols, double eps, const T* g, const T* w, T* out) {
  const RowStats stats = row_stats(w, cols, eps);
  double sum_g = 0, sum_g_centred = 0;
#pragma omp simd reduction(+ : sum_g, sum_g_centred)
  for (int64_t i = 0; i < cols; ++i) {
    sum_g += g[i];
    sum_g_centred += g[i] * (w[i] - stats.mean);
  }
  const double mean_g = sum_g / cols;
  // xhat * mean(g * xhat) = (w - mean) * rstd^2 * mean(g * (w - mean))
  const double slope = stats.rstd * stats.rstd * sum_g_centred / cols;
#pragma omp simd
  for (int64_t i = 0; i < cols; ++i) {
    out[i] = static_cast<T>(stats.rstd * (g[i] - mean_g - (w[i] - stats.mean) * slope));
  }
}

}  // namespace

template <typename T>
void weight_standardize_fwd_rows(int64_t rows, int64_t cols, double eps, const T* w, T* w_hat) {
  BG_CHECK(rows >= 0 && cols >= 1, "weight_standardize: expected rows >= 0 and cols >= 1, got (",
           rows, ", ", cols, ")");
  const auto row = for_active_isa<&fwd_row<T>>();
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMinElements)
  for (int64_t o = 0; o < rows; ++o) row(cols, eps, w + o * cols, w_hat + o * cols);
}

template <typename T>
void weight_standardize_bwd_rows(int64_t rows, int64_t cols, double eps, const T* dy, const T* w,
                                 T* dw) {
  BG_CHECK(rows >= 0 && cols >= 1, "weight_standardize backward: expected rows >= 0 and ",
           "cols >= 1, got (", rows, ", ", cols, ")");
  const auto row = for_active_isa<&bwd_row<T>>();
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMinElements)
  for (int64_t o = 0; o < rows; ++o) row(cols, eps, dy + o * cols, w + o * cols, dw + o * cols);
}

template void weight_standardize_fwd_rows<float>(int64_t, int64_t, double, const float*, float*);
template void weight_standardize_fwd_rows<double>(int64_t, int64_t, double, const double*, double*);
template void weight_standardize_bwd_rows<float>(int64_t, int64_t, double, const float*,
                                                 const float*, float*);
template void weight_standardize_bwd_rows<double>(int64_t, int64_t, double, const double*,
                                                  const double*, double*);

}  // namespace bitgrad::cpu
