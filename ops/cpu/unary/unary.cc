// CPU kernels for exp, log, sigmoid and tanh: oneDNN eltwise, run flat over the stored buffer
// (common/flat_eltwise.h), keeping the input's layout except where that would write non-zero
// padding. oneDNN 2.6's log is up to 3.4e-6 off near x = 1 (log(1.0001) comes out 1.4% low),
// so log's forward is a loop over std::log instead; its backward, dy / x, is oneDNN's. float64
// and empty tensors go to the reference kernels.
#include <cmath>

#include "ops/cpu/common/flat_eltwise.h"
#include "ops/cpu/common/onednn_context.h"
#include "ops/cpu/common/onednn_layout.h"
#include "ops/cpu/common/parallel.h"
#include "ops/unary.h"

namespace bitgrad::onednn {
namespace {

using dnnl::algorithm;
using dnnl::memory;

// The *_use_dst_for_bwd variants let backward read y; log's backward reads x.
algorithm eltwise_algorithm(UnaryOp op) {
  switch (op) {
    case UnaryOp::kExp: return algorithm::eltwise_exp_use_dst_for_bwd;
    case UnaryOp::kLog: return algorithm::eltwise_log;
    case UnaryOp::kSigmoid: return algorithm::eltwise_logistic_use_dst_for_bwd;
    case UnaryOp::kTanh: return algorithm::eltwise_tanh_use_dst_for_bwd;
  }
  BG_ASSERT(false, "unknown unary op");
}

void log_loop(const float* x, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= cpu::kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) y[i] = std::log(x[i]);
}

// x in any layout. Returns y = op(x) in x's layout, or plain where x's blocked layout has
// padding and op(0) != 0 (all but tanh). Overwrites y.
Tensor unary_fwd_onednn(const Tensor& x, UnaryOp op) {
  if (x.dtype() != DType::kFloat32 || x.numel() == 0) return run_reference<UnaryFwd>(x, op);
  const char* name = unary_op_name(op);
  return translate_errors(name, [&] {
    Buffer src = view(x);
    if (op != UnaryOp::kTanh && has_padding(src.desc())) src = view(x.to_plain());
    Tensor y = empty_with_desc(x.shape(), x.dtype(), src.desc());
    const memory::desc flat_layout = flat_desc(src.desc());
    if (op == UnaryOp::kLog) {
      log_loop(static_cast<const float*>(src.memory.get_data_handle()),
               static_cast<float*>(y.mutable_raw_data()), flat_layout.dims()[0]);
      return y;
    }
    auto eltwise = eltwise_primitive(name, dnnl::prop_kind::forward_training,
                                     eltwise_algorithm(op), flat_layout, 0.f, 0.f);
    execute(name, eltwise, {{DNNL_ARG_SRC, flat(src)}, {DNNL_ARG_DST, flat(view(y))}});
    return y;
  });
}

// dy and saved (y, or x for log) in any layouts, brought to one. Returns dx in that layout.
// dy's padding is zero, so dy * op'(saved) keeps it zero wherever op' is finite at the padding's
// saved value: everywhere but log's dy / x, which runs plain. Overwrites dx.
Tensor unary_bwd_onednn(const Tensor& dy, const Tensor& saved, UnaryOp op) {
  if (dy.dtype() != DType::kFloat32 || saved.dtype() != DType::kFloat32 || dy.numel() == 0) {
    return run_reference<UnaryBwd>(dy, saved, op);
  }
  const char* name = unary_op_name(op);
  BG_CHECK(dy.shape() == saved.shape(), name, " backward: dy has shape ", dy.shape(),
           " but the saved tensor has ", saved.shape());
  return translate_errors(name, [&] {
    memory::desc desc = common_desc(saved, dy);
    if (op == UnaryOp::kLog && has_padding(desc)) desc = plain_desc(dy.shape(), dy.dtype());
    Buffer diff_dst = in_layout(view(dy), desc);
    Buffer kept = in_layout(view(saved), desc);
    auto eltwise = eltwise_backward_primitive(name, eltwise_algorithm(op), flat_desc(desc));
    Tensor dx = empty_with_desc(dy.shape(), dy.dtype(), desc);
    const int saved_arg = unary_grad_uses_output(op) ? DNNL_ARG_DST : DNNL_ARG_SRC;
    execute(name, eltwise,
            {{DNNL_ARG_DIFF_DST, flat(diff_dst)},
             {saved_arg, flat(kept)},
             {DNNL_ARG_DIFF_SRC, flat(view(dx))}});
    return dx;
  });
}

}  // namespace

BG_REGISTER_LAYOUT_AWARE_KERNEL(UnaryFwd, kCpu, unary_fwd_onednn);
BG_REGISTER_LAYOUT_AWARE_KERNEL(UnaryBwd, kCpu, unary_bwd_onednn);

}  // namespace bitgrad::onednn
