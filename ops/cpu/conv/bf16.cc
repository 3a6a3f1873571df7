#include "ops/cpu/conv/bf16.h"

#include "ops/cpu/common/onednn_context.h"
#include "ops/cpu/common/onednn_layout.h"
#include "ops/cpu/conv/direct.h"
#include "ops/math_mode.h"

namespace bitgrad::onednn {

using dnnl::memory;
using Fwd = dnnl::convolution_forward;
using BwdData = dnnl::convolution_backward_data;

namespace {

memory::desc bf16_any(const memory::dims& dims) {
  return memory::desc(dims, memory::data_type::bf16, memory::format_tag::any);
}

const char* isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "SSE4.1";
    case dnnl::cpu_isa::avx: return "AVX";
    case dnnl::cpu_isa::avx2: return "AVX2";
    case dnnl::cpu_isa::avx2_vnni: return "AVX2-VNNI";
    case dnnl::cpu_isa::avx512_core: return "AVX-512";
    case dnnl::cpu_isa::avx512_core_vnni: return "AVX-512 with VNNI";
    case dnnl::cpu_isa::avx512_core_bf16: return "AVX512-BF16 but no AMX";
    default: return "an ISA without AMX";
  }
}

void check_supported(const char* op) {
  const std::string problem = cpu_bf16_problem();
  BG_CHECK(problem.empty(), op, ": bf16 autocast is on, but it ", problem,
           " (set_bf16_autocast_enabled(false), or BITGRAD_BF16 unset, runs float32)");
}

CacheKey bf16_key(const char* op, const ConvGeometry& g) {
  CacheKey key(op);
  g.add_to(key);
  return key;
}

CachedPrimitive<Fwd::primitive_desc> forward_primitive_bf16(const ConvGeometry& g,
                                                            bool with_bias) {
  CacheKey key = bf16_key("conv2d_bf16", g);
  key.add(static_cast<int64_t>(with_bias));
  return cached_primitive<Fwd::primitive_desc>(key, [&] {
    memory::desc bias_desc =
        with_bias ? memory::desc({g.dst[1]}, memory::data_type::f32, memory::format_tag::a)
                  : memory::desc();
    Fwd::desc desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                   bf16_any(g.src), bf16_any(g.weights), bias_desc, bf16_any(g.dst), g.strides,
                   g.dilates, g.padding, g.padding);
    return Fwd::primitive_desc(desc, default_attr(), engine());
  });
}

// The bf16 result of a primitive, in a temporary buffer of the layout it chose.
template <typename Pd>
Buffer execute_into_buffer(const char* op, const CachedPrimitive<Pd>& conv, int result_arg,
                           const memory::desc& result_desc,
                           std::unordered_map<int, memory> args) {
  Buffer result = allocate(result_desc);
  args[result_arg] = result.memory;
  execute(op, conv, std::move(args));
  return result;
}

}  // namespace

std::string cpu_bf16_problem() {
  // oneDNN's ISA values are bit sets, each holding the bits of the ISAs it extends.
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  const auto bits = static_cast<unsigned>(isa);
  const auto amx_bits = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_amx);
  if ((bits & amx_bits) == amx_bits) return "";
  return std::string("needs a CPU with AMX (Intel Xeon Sapphire Rapids or later; oneDNN 2.6's "
                     "other bf16 convolutions run slower than float32), and oneDNN runs this "
                     "one with ") +
         isa_name(isa);
}

Tensor conv2d_fwd_bf16(const Tensor& x, const Tensor& w, const Tensor& bias,
                       const Conv2dAttrs& attrs) {
  check_supported("conv2d");
  const ConvGeometry g = conv_geometry(x.shape(), w.shape(), attrs);
  auto conv = forward_primitive_bf16(g, bias.defined());
  Buffer src = in_layout(view(x), conv.pd.src_desc());
  Buffer weights = in_layout(plain_view(w, g.weights), conv.pd.weights_desc());
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src.memory},
                                          {DNNL_ARG_WEIGHTS, weights.memory}};
  Buffer bias_buffer;
  if (bias.defined()) {
    bias_buffer = plain_view(bias, {g.dst[1]});
    args[DNNL_ARG_BIAS] = bias_buffer.memory;
  }
  Buffer result =
      execute_into_buffer("conv2d", conv, DNNL_ARG_DST, conv.pd.dst_desc(), std::move(args));
  Tensor y = empty_with_desc(g.dst_shape(), DType::kFloat32,
                             forward_primitive(g, /*with_bias=*/false).pd.dst_desc());
  reorder(result.memory, view(y).memory);
  return y;
}

void conv2d_add_into_bf16(const Tensor& x, const Tensor& w, const Conv2dAttrs& attrs,
                          Tensor& y) {
  check_supported("conv2d_add");
  const ConvGeometry g = conv_geometry(x.shape(), w.shape(), attrs);
  BG_ASSERT(y.shape() == g.dst_shape(), "conv2d_add: the output has the conv's shape");
  auto conv = forward_primitive_bf16(g, /*with_bias=*/false);
  Buffer src = in_layout(view(x), conv.pd.src_desc());
  Buffer weights = in_layout(plain_view(w, g.weights), conv.pd.weights_desc());
  Buffer result =
      execute_into_buffer("conv2d_add", conv, DNNL_ARG_DST, conv.pd.dst_desc(),
                          {{DNNL_ARG_SRC, src.memory}, {DNNL_ARG_WEIGHTS, weights.memory}});
  reorder_add(result.memory, view(y).memory);
}

Tensor conv2d_bwd_data_bf16(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                            const Conv2dAttrs& attrs) {
  check_supported("conv2d backward data");
  const ConvGeometry g = conv_geometry(x_shape, w.shape(), attrs);
  auto conv = cached_primitive<BwdData::primitive_desc>(bf16_key("conv2d_bwd_data_bf16", g), [&] {
    BwdData::desc desc(dnnl::algorithm::convolution_direct, bf16_any(g.src), bf16_any(g.weights),
                       bf16_any(g.dst), g.strides, g.dilates, g.padding, g.padding);
    return BwdData::primitive_desc(desc, default_attr(), engine(),
                                   forward_primitive_bf16(g, /*with_bias=*/false).pd);
  });
  Buffer diff_dst = in_layout(view(dy), conv.pd.diff_dst_desc());
  Buffer weights = in_layout(plain_view(w, g.weights), conv.pd.weights_desc());
  Buffer result = execute_into_buffer(
      "conv2d backward data", conv, DNNL_ARG_DIFF_SRC, conv.pd.diff_src_desc(),
      {{DNNL_ARG_DIFF_DST, diff_dst.memory}, {DNNL_ARG_WEIGHTS, weights.memory}});
  Tensor dx = empty_with_desc(x_shape, DType::kFloat32,
                              backward_data_primitive(g).pd.diff_src_desc());
  reorder(result.memory, view(dx).memory);
  return dx;
}

static const bool bf16_check_registered =
    register_bf16_autocast_check(DeviceType::kCPU, cpu_bf16_problem);

}  // namespace bitgrad::onednn
