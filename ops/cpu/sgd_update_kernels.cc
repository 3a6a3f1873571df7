// The SGD-with-momentum update on the CPU (contract: ops/sgd_update.h). A memory-bound stream
// over param, grad and the momentum buffer, split across threads; each element is computed
// exactly as the reference kernel does, in double, so results match it bit for bit.
#include "ops/sgd_update.h"

namespace bitgrad::cpu {
namespace {

// Below this many elements one thread does it all: waking the pool costs more.
constexpr int64_t kParallelMinElements = 1 << 15;

template <typename T>
void update(T* p, const T* g, T* buf, int64_t n, const SgdUpdateAttrs& attrs) {
  const double lr = attrs.lr, momentum = attrs.momentum, wd = attrs.weight_decay;
  const double keep = 1 - attrs.dampening;
  const bool first = attrs.first_step, nesterov = attrs.nesterov;
#pragma omp parallel for simd schedule(static) if (n >= kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) {
    double step = g[i] + wd * p[i];
    if (buf != nullptr) {
      double b = first ? step : momentum * buf[i] + keep * step;
      buf[i] = static_cast<T>(b);
      step = nesterov ? step + momentum * b : b;
    }
    p[i] = static_cast<T>(p[i] - lr * step);
  }
}

// Updates param and momentum_buffer in place.
void sgd_update_cpu(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                    const SgdUpdateAttrs& attrs) {
  BG_CHECK(grad.shape() == param.shape() && grad.dtype() == param.dtype(), "sgd_update: ",
           "gradient ", grad.shape(), " ", dtype_name(grad.dtype()), " does not match parameter ",
           param.shape(), " ", dtype_name(param.dtype()));
  Tensor p = param, buf = momentum_buffer;
  BG_DISPATCH_FLOAT(param.dtype(), "sgd_update", [&] {
    update(p.mutable_data<scalar_t>(), grad.data<scalar_t>(),
           attrs.momentum != 0 ? buf.mutable_data<scalar_t>() : nullptr, param.numel(), attrs);
  });
}

}  // namespace

BG_REGISTER_KERNEL(SgdUpdate, kCpu, sgd_update_cpu);

}  // namespace bitgrad::cpu
