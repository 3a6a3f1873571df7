// The SGD-with-momentum update on the CPU (contract: ops/sgd_update.h). A memory-bound stream
// over every parameter, its gradient and its momentum buffer, laid end to end and split across
// threads; each element is computed exactly as the reference kernel does, in double, so results
// match it bit for bit. The same pass notes which parameters came out non-finite.
//
// The options are template parameters, so the loop has no branches and vectorizes. The AVX2
// copy is compiled without FMA: a fused multiply-add rounds once where the reference kernel
// rounds twice, and the results would no longer match it bit for bit.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "ops/cpu/common/cpu_isa.h"
#include "ops/cpu/common/parallel.h"
#include "ops/sgd_update.h"

namespace bitgrad::cpu {
namespace {

// Elements [begin, end) of the update; kMomentum false means no buffer. Returns whether every
// new value is finite.
template <typename T, bool kMomentum, bool kFirst, bool kNesterov>
BG_ALWAYS_INLINE bool update_range(T* p, const T* g, T* buf, int64_t begin, int64_t end,
                                   const SgdUpdateAttrs& attrs) {
  const SgdOptions& options = attrs.options;
  const double lr = options.lr, momentum = options.momentum, wd = options.weight_decay;
  const double keep = 1 - options.dampening;
  // value * 0 is 0 for a finite value and NaN for a NaN or an infinity, so the sum of them is 0
  // exactly when all are finite: one add per element, hidden in a loop bound by memory.
  T non_finite_sum = 0;
  // GCC at -O2 leaves a loop scalar, silently, where vectorizing it needs a run-time check that
  // p, g and buf do not overlap; `omp simd` says the iterations are independent.
#pragma omp simd reduction(+ : non_finite_sum)
  for (int64_t i = begin; i < end; ++i) {
    double step = g[i] + wd * p[i];
    if constexpr (kMomentum) {
      double b = kFirst ? step : momentum * buf[i] + keep * step;
      buf[i] = static_cast<T>(b);
      step = kNesterov ? step + momentum * b : b;
    }
    const T updated = static_cast<T>(p[i] - lr * step);
    p[i] = updated;
    non_finite_sum += updated * T(0);
  }
  return non_finite_sum == 0;
}

// update_range on one parameter's untyped pointers; the copy for the active ISA.
using RangeFn = bool (*)(void* p, const void* g, void* buf, int64_t begin, int64_t end,
                         const SgdUpdateAttrs& attrs);

template <typename T, bool kMomentum, bool kFirst, bool kNesterov>
bool range_portable(void* p, const void* g, void* buf, int64_t begin, int64_t end,
                    const SgdUpdateAttrs& attrs) {
  return update_range<T, kMomentum, kFirst, kNesterov>(
      static_cast<T*>(p), static_cast<const T*>(g), static_cast<T*>(buf), begin, end, attrs);
}

#if BG_HAVE_AVX2_CLONES
template <typename T, bool kMomentum, bool kFirst, bool kNesterov>
__attribute__((target("avx2"))) bool range_avx2(void* p, const void* g, void* buf, int64_t begin,
                                                int64_t end, const SgdUpdateAttrs& attrs) {
  return update_range<T, kMomentum, kFirst, kNesterov>(
      static_cast<T*>(p), static_cast<const T*>(g), static_cast<T*>(buf), begin, end, attrs);
}
#endif

template <typename T, bool kMomentum, bool kFirst, bool kNesterov>
RangeFn range_for_active_isa() {
#if BG_HAVE_AVX2_CLONES
  if (active_cpu_isa() == CpuIsa::kAvx2Fma) return &range_avx2<T, kMomentum, kFirst, kNesterov>;
#endif
  return &range_portable<T, kMomentum, kFirst, kNesterov>;
}

// The instantiation for dtype T and the options in attrs (no buffer: no momentum).
template <typename T>
RangeFn range_for(bool has_buffer, const SgdUpdateAttrs& attrs) {
  const bool nesterov = attrs.options.nesterov;
  if (!has_buffer) return range_for_active_isa<T, false, false, false>();
  if (attrs.first_step) {
    return nesterov ? range_for_active_isa<T, true, true, true>()
                    : range_for_active_isa<T, true, true, false>();
  }
  return nesterov ? range_for_active_isa<T, true, false, true>()
                  : range_for_active_isa<T, true, false, false>();
}

// One parameter's memory and the loop that updates it.
struct ParamSpan {
  void* param;
  const void* grad;
  void* buffer;  // null without momentum
  int64_t numel;
  RangeFn range;
};

// Elements [begin, end) of the parameters laid end to end. Returns the index of the first
// parameter with a non-finite new value in the slice, or spans.size() when there is none.
int64_t update_slice(const std::vector<ParamSpan>& spans, int64_t begin, int64_t end,
                     const SgdUpdateAttrs& attrs) {
  int64_t first_non_finite = static_cast<int64_t>(spans.size());
  int64_t offset = 0;  // of the current parameter's first element
  for (size_t i = 0; i < spans.size(); ++i) {
    const ParamSpan& s = spans[i];
    const int64_t lo = std::max<int64_t>(begin - offset, 0);
    const int64_t hi = std::min(end - offset, s.numel);
    if (lo < hi && !s.range(s.param, s.grad, s.buffer, lo, hi, attrs)) {
      first_non_finite = std::min(first_non_finite, static_cast<int64_t>(i));
    }
    offset += s.numel;
    if (offset >= end) break;
  }
  return first_non_finite;
}

// All the parameters in one parallel pass: each thread updates a contiguous slice of them laid
// end to end, so a model of many small parameters wakes the threads once, not once each.
int64_t sgd_update_cpu(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                       const std::vector<Tensor>& momentum_buffers,
                       const SgdUpdateAttrs& attrs) {
  std::vector<ParamSpan> spans;
  int64_t total = 0;
  for_each_sgd_update(params, grads, momentum_buffers, attrs,
                      [&](const Tensor& p, const Tensor& g, const Tensor& b) {
                        Tensor param = p, buffer = b;
                        BG_DISPATCH_FLOAT(p.dtype(), "sgd_update", [&] {
                          spans.push_back({param.mutable_data<scalar_t>(), g.data<scalar_t>(),
                                           mutable_data_or_null<scalar_t>(buffer), p.numel(),
                                           range_for<scalar_t>(b.defined(), attrs)});
                        });
                        total += p.numel();
                      });
  const int64_t none = static_cast<int64_t>(spans.size());
  int64_t first_non_finite = none;
  if (total < kParallelMinElements) {
    first_non_finite = update_slice(spans, 0, total, attrs);
  } else {
#pragma omp parallel reduction(min : first_non_finite)
    {
      // Equal slices, in multiples of 16 elements (a 64-byte cache line of float32).
      const int64_t threads = omp_get_num_threads(), align = 16;
      const int64_t slice = (total + threads * align - 1) / (threads * align) * align;
      const int64_t begin = std::min(total, omp_get_thread_num() * slice);
      first_non_finite = update_slice(spans, begin, std::min(total, begin + slice), attrs);
    }
  }
  return first_non_finite == none ? -1 : first_non_finite;
}

}  // namespace

BG_REGISTER_KERNEL(SgdUpdate, kCpu, sgd_update_cpu);

}  // namespace bitgrad::cpu
