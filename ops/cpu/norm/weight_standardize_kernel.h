// Weight Standardization on the CPU: for each row o of a weight viewed as (O, K), K = I*kh*kw,
//   w_hat = (w - mean_o) / sqrt(biased var_o + eps)      (BiT: eps = 1e-10).
// Rows run in parallel (OpenMP); each row's statistics are two-pass and in double. The raw
// entry points serve the kCpu kernels registered for WeightStandardizeFwd/Bwd and any caller
// that standardizes into its own buffer (e.g. before a reorder into oneDNN's weight layout).
#pragma once

#include <cstdint>

namespace bitgrad::cpu {

// w, w_hat: (rows, cols) row-major. Overwrites w_hat.
template <typename T>
void weight_standardize_fwd_rows(int64_t rows, int64_t cols, double eps, const T* w, T* w_hat);

// dy, w, dw: (rows, cols). The statistics are recomputed from w. Per row, with
//   xhat = (w - mean) * rstd:  dw = rstd * (dy - mean(dy) - xhat * mean(dy * xhat)).
// Overwrites dw.
template <typename T>
void weight_standardize_bwd_rows(int64_t rows, int64_t cols, double eps, const T* dy, const T* w,
                                 T* dw);

}  // namespace bitgrad::cpu
