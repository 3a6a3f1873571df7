// The SGD-with-momentum update on the CPU (contract: ops/sgd_update.h). A memory-bound stream
// over param, grad and the momentum buffer, split across threads; each element is computed
// exactly as the reference kernel does, in double, so results match it bit for bit.
//
// The options are template parameters, so the loop has no branches and vectorizes. The AVX2
// copy is compiled without FMA: a fused multiply-add rounds once where the reference kernel
// rounds twice, and the results would no longer match it bit for bit.
#include <omp.h>

#include <algorithm>

#include "ops/cpu/common/cpu_isa.h"
#include "ops/cpu/common/parallel.h"
#include "ops/sgd_update.h"

namespace bitgrad::cpu {
namespace {

// Elements [begin, end) of the update; kMomentum false means no buffer.
template <typename T, bool kMomentum, bool kFirst, bool kNesterov>
BG_ALWAYS_INLINE void update_range(T* p, const T* g, T* buf, int64_t begin, int64_t end,
                                   const SgdUpdateAttrs& attrs) {
  const SgdOptions& options = attrs.options;
  const double lr = options.lr, momentum = options.momentum, wd = options.weight_decay;
  const double keep = 1 - options.dampening;
  for (int64_t i = begin; i < end; ++i) {
    double step = g[i] + wd * p[i];
    if constexpr (kMomentum) {
      double b = kFirst ? step : momentum * buf[i] + keep * step;
      buf[i] = static_cast<T>(b);
      step = kNesterov ? step + momentum * b : b;
    }
    p[i] = static_cast<T>(p[i] - lr * step);
  }
}

template <typename T, bool kMomentum, bool kFirst, bool kNesterov>
void range_portable(T* p, const T* g, T* buf, int64_t begin, int64_t end,
                    const SgdUpdateAttrs& attrs) {
  update_range<T, kMomentum, kFirst, kNesterov>(p, g, buf, begin, end, attrs);
}

#if BG_HAVE_AVX2_CLONES
template <typename T, bool kMomentum, bool kFirst, bool kNesterov>
__attribute__((target("avx2"))) void range_avx2(T* p, const T* g, T* buf, int64_t begin,
                                                int64_t end, const SgdUpdateAttrs& attrs) {
  update_range<T, kMomentum, kFirst, kNesterov>(p, g, buf, begin, end, attrs);
}
#endif

template <typename T, bool kMomentum, bool kFirst, bool kNesterov>
void update(T* p, const T* g, T* buf, int64_t n, const SgdUpdateAttrs& attrs) {
  auto range = &range_portable<T, kMomentum, kFirst, kNesterov>;
#if BG_HAVE_AVX2_CLONES
  if (active_cpu_isa() == CpuIsa::kAvx2Fma) range = &range_avx2<T, kMomentum, kFirst, kNesterov>;
#endif
  if (n < kParallelMinElements) return range(p, g, buf, 0, n, attrs);
#pragma omp parallel
  {
    // Contiguous slices, 64-byte aligned where the tensor is, one per thread.
    const int64_t threads = omp_get_num_threads(), align = 64 / sizeof(T);
    const int64_t slice = (n + threads * align - 1) / (threads * align) * align;
    const int64_t begin = std::min(n, omp_get_thread_num() * slice);
    range(p, g, buf, begin, std::min(n, begin + slice), attrs);
  }
}

// The instantiation for the options in attrs.
template <typename T>
void update(T* p, const T* g, T* buf, int64_t n, const SgdUpdateAttrs& attrs) {
  if (buf == nullptr) return update<T, false, false, false>(p, g, buf, n, attrs);
  if (attrs.first_step) {
    return attrs.options.nesterov ? update<T, true, true, true>(p, g, buf, n, attrs)
                                  : update<T, true, true, false>(p, g, buf, n, attrs);
  }
  return attrs.options.nesterov ? update<T, true, false, true>(p, g, buf, n, attrs)
                                : update<T, true, false, false>(p, g, buf, n, attrs);
}

// Updates param and momentum_buffer in place.
void update_one(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                const SgdUpdateAttrs& attrs) {
  Tensor p = param, buf = momentum_buffer;
  BG_DISPATCH_FLOAT(param.dtype(), "sgd_update", [&] {
    update(p.mutable_data<scalar_t>(), grad.data<scalar_t>(), mutable_data_or_null<scalar_t>(buf),
           param.numel(), attrs);
  });
}

// Each parameter in turn: one parallel pass each (a parameter is large enough to split).
void sgd_update_cpu(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                    const std::vector<Tensor>& momentum_buffers, const SgdUpdateAttrs& attrs) {
  for_each_sgd_update(params, grads, momentum_buffers, attrs,
                      [&](const Tensor& p, const Tensor& g, const Tensor& b) {
                        update_one(p, g, b, attrs);
                      });
}

}  // namespace

BG_REGISTER_KERNEL(SgdUpdate, kCpu, sgd_update_cpu);

}  // namespace bitgrad::cpu
