// The kCuda convolution kernels on cuDNN's convolution API (NCHW, float32/float64): forward,
// backward-data and backward-filter. Each direction's algorithm is chosen once per shape, by
// cudnnFind*AlgorithmEx (which times the candidates), and cached; its workspace comes from the
// caching allocator. float32 convs may use TF32 tensor cores unless cuda_tf32_enabled() is off.
#include <algorithm>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/check.h"
#include "core/cuda/cuda_memory.h"
#include "core/cuda/cuda_stream.h"
#include "ops/conv.h"
#include "ops/cuda/common/cast_kernels.h"
#include "ops/elementwise.h"
#include "ops/cuda/common/gpu_check.h"
#include "ops/cuda/common/gpu_context.h"
#include "ops/cuda/math_mode.h"
#include "ops/math_mode.h"

namespace bitgrad::cuda_ops {
namespace {

// The most workspace an algorithm may use; faster algorithms that want more are passed over.
constexpr size_t kWorkspaceLimit = size_t{512} << 20;

// Descriptors of one convolution (x, w, y shapes and attrs), destroyed with it.
class ConvDescriptors {
 public:
  ConvDescriptors(const char* op, const Shape& x, const Shape& w, const Shape& y,
                  const Conv2dAttrs& attrs, DType dtype)
      : op_(op) {
    try {
      create(x, w, y, attrs, dtype);
    } catch (...) {  // a constructor that throws runs no destructor
      destroy();
      throw;
    }
  }
  ~ConvDescriptors() { destroy(); }
  ConvDescriptors(const ConvDescriptors&) = delete;
  ConvDescriptors& operator=(const ConvDescriptors&) = delete;

  void set_math(cudnnMathType_t math) {
    CUDNN_CHECK(op_, cudnnSetConvolutionMathType(conv_, math));
  }

  cudnnTensorDescriptor_t x() const { return x_; }
  cudnnTensorDescriptor_t y() const { return y_; }
  cudnnFilterDescriptor_t w() const { return w_; }
  cudnnConvolutionDescriptor_t conv() const { return conv_; }

 private:
  void create(const Shape& x, const Shape& w, const Shape& y, const Conv2dAttrs& attrs,
              DType dtype) {
    BG_CHECK(dtype == DType::kFloat32 || dtype == DType::kFloat64 || dtype == DType::kBFloat16,
             op_, ": expected a float32, float64 or bfloat16 tensor, got ", dtype_name(dtype));
    // bf16 data (autocast) accumulates in float32.
    const cudnnDataType_t type = dtype == DType::kFloat32    ? CUDNN_DATA_FLOAT
                                 : dtype == DType::kFloat64  ? CUDNN_DATA_DOUBLE
                                                             : CUDNN_DATA_BFLOAT16;
    const cudnnDataType_t compute = dtype == DType::kFloat64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
    CUDNN_CHECK(op_, cudnnCreateTensorDescriptor(&x_));
    CUDNN_CHECK(op_, cudnnCreateTensorDescriptor(&y_));
    CUDNN_CHECK(op_, cudnnCreateFilterDescriptor(&w_));
    CUDNN_CHECK(op_, cudnnCreateConvolutionDescriptor(&conv_));
    set_tensor(x_, x, type);
    set_tensor(y_, y, type);
    CUDNN_CHECK(op_, cudnnSetFilter4dDescriptor(w_, type, CUDNN_TENSOR_NCHW, dim(w, 0), dim(w, 1),
                                               dim(w, 2), dim(w, 3)));
    CUDNN_CHECK(op_, cudnnSetConvolution2dDescriptor(
                        conv_, dim64(attrs.padding[0]), dim64(attrs.padding[1]),
                        dim64(attrs.stride[0]), dim64(attrs.stride[1]), dim64(attrs.dilation[0]),
                        dim64(attrs.dilation[1]), CUDNN_CROSS_CORRELATION, compute));
    CUDNN_CHECK(op_, cudnnSetConvolutionGroupCount(conv_, dim64(attrs.groups)));
    bool fp32_exact = dtype == DType::kFloat32 && !cuda_tf32_enabled();
    set_math(fp32_exact ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH);
  }
  void destroy() {  // destroy never fails for valid descriptors; nothing to report
    if (conv_ != nullptr) cudnnDestroyConvolutionDescriptor(conv_);
    if (w_ != nullptr) cudnnDestroyFilterDescriptor(w_);
    if (y_ != nullptr) cudnnDestroyTensorDescriptor(y_);
    if (x_ != nullptr) cudnnDestroyTensorDescriptor(x_);
  }
  int dim(const Shape& s, int d) const { return checked_int(op_, s[d], "a dimension"); }
  int dim64(int64_t v) const { return checked_int(op_, v, "a convolution attribute"); }
  void set_tensor(cudnnTensorDescriptor_t desc, const Shape& s, cudnnDataType_t type) {
    CUDNN_CHECK(op_, cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW, type, dim(s, 0),
                                                dim(s, 1), dim(s, 2), dim(s, 3)));
  }

  const char* op_;
  cudnnTensorDescriptor_t x_ = nullptr, y_ = nullptr;
  cudnnFilterDescriptor_t w_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
};

struct AlgoChoice {
  int algo = 0;  // a cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t
  size_t workspace = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

std::string cache_key(const char* op, const Shape& x, const Shape& w, const Conv2dAttrs& a,
                      DType dtype, int device_index) {
  return detail::str_cat(op, x, w, a.stride[0], ',', a.stride[1], ',', a.padding[0], ',',
                         a.padding[1], ',', a.dilation[0], ',', a.dilation[1], ',', a.groups,
                         dtype_name(dtype), cuda_tf32_enabled(), '@', device_index);
}

// The cached choice for `key`, or runs `find(perf, &count, workspace, limit)` once to make it.
// Perf is one of cuDNN's *AlgoPerf_t structs, best first.
template <typename Perf, typename Find>
AlgoChoice choose_algorithm(const char* op, const std::string& key, Device device, Find find) {
  static std::mutex mutex;
  static auto* cache = new std::unordered_map<std::string, AlgoChoice>();
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache->find(key);
    if (it != cache->end()) return it->second;
  }
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_OP_CHECK(op, cudaMemGetInfo(&free_bytes, &total_bytes));
  // Blocks parked in the caching allocator count as free: an allocation that needs them gets
  // them back. Without them, a choice made while the cache holds most of the memory would be
  // cached for the shape with a needlessly small workspace.
  const size_t available = free_bytes + cuda_memory_stats(device.index).bytes_cached;
  const size_t limit = std::min(kWorkspaceLimit, available / 2);
  Tensor workspace = gpu_workspace(limit, device);
  Perf perf[16];
  int count = 0;
  find(perf, &count, workspace.mutable_raw_data(), limit);
  for (int i = 0; i < count; ++i) {
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= limit) {
      AlgoChoice choice{static_cast<int>(perf[i].algo), perf[i].memory, perf[i].mathType};
      std::lock_guard<std::mutex> lock(mutex);
      cache->emplace(key, choice);
      return choice;
    }
  }
  BG_CHECK(false, op, ": cuDNN found no algorithm that runs within ", limit,
           " bytes of workspace for ", key);
}

// Executes with the chosen algorithm's math type, except that TF32 stays off when asked.
void use_math(ConvDescriptors& d, const AlgoChoice& choice, DType dtype) {
  if (dtype == DType::kFloat32 && !cuda_tf32_enabled()) return;  // stays CUDNN_FMA_MATH
  d.set_math(choice.math);
}

struct Scalars {  // alpha = 1 and beta = 0 or 1 in the compute precision
  explicit Scalars(DType dtype) : is_float(dtype != DType::kFloat64) {}
  const void* one() const { return is_float ? static_cast<const void*>(&f1) : &d1; }
  const void* zero() const { return is_float ? static_cast<const void*>(&f0) : &d0; }
  bool is_float;
  float f1 = 1, f0 = 0;
  double d1 = 1, d0 = 0;
};

// y = conv(x, w), or y + conv(x, w) when `accumulate` (cuDNN's beta = 1), with the algorithm
// found once per shape. The search writes a scratch output, never y.
void convolution_forward(const char* op, const GpuContext& gpu, const Tensor& x, const Tensor& w,
                         Tensor& y, const Conv2dAttrs& attrs, bool accumulate) {
  ConvDescriptors d(op, x.shape(), w.shape(), y.shape(), attrs, x.dtype());
  AlgoChoice choice = choose_algorithm<cudnnConvolutionFwdAlgoPerf_t>(
      op, cache_key("Conv2dFwd", x.shape(), w.shape(), attrs, x.dtype(), gpu.device_index),
      x.device(), [&](cudnnConvolutionFwdAlgoPerf_t* perf, int* count, void* ws, size_t limit) {
        Tensor scratch = empty(y.shape(), y.dtype(), y.device());
        CUDNN_CHECK(op, cudnnFindConvolutionForwardAlgorithmEx(
                            gpu.cudnn, d.x(), x.raw_data(), d.w(), w.raw_data(), d.conv(), d.y(),
                            scratch.mutable_raw_data(), 16, count, perf, ws, limit));
      });
  use_math(d, choice, x.dtype());
  Tensor workspace = gpu_workspace(choice.workspace, x.device());
  Scalars s(x.dtype());
  CUDNN_CHECK(op, cudnnConvolutionForward(
                      gpu.cudnn, s.one(), d.x(), x.raw_data(), d.w(), w.raw_data(), d.conv(),
                      static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo),
                      workspace.mutable_raw_data(), choice.workspace,
                      accumulate ? s.one() : s.zero(), d.y(), y.mutable_raw_data()));
}

Tensor cast(const char* op, const Tensor& t, DType to) {
  Tensor out = empty(t.shape(), to, t.device());
  cudaStream_t stream = cuda_stream(t.device().index);
  if (to == DType::kBFloat16) {
    CUDA_OP_CHECK(op, launch_float_to_bf16(t.data<float>(),
                                           static_cast<uint16_t*>(out.mutable_raw_data()),
                                           t.numel(), stream));
  } else {
    CUDA_OP_CHECK(op, launch_bf16_to_float(static_cast<const uint16_t*>(t.raw_data()),
                                           out.mutable_data<float>(), t.numel(), stream));
  }
  return out;
}

Tensor to_bf16(const char* op, const Tensor& t) { return cast(op, t, DType::kBFloat16); }
Tensor to_float(const char* op, const Tensor& t) { return cast(op, t, DType::kFloat32); }

// x: (N, C, H, W), w: (O, C/groups, KH, KW), bias: (O) or undefined, one dtype, one CUDA
// device (ops/conv.cc checked the shapes). Returns y (N, O, OH, OW) on that device.
Tensor conv2d_fwd_cuda(const Tensor& x, const Tensor& w, const Tensor& bias,
                       const Conv2dAttrs& attrs) {
  constexpr const char* kOp = "Conv2dFwd";
  Shape y_shape = conv2d_output_shape(x.shape(), w.shape(), attrs);
  if (y_shape.numel() == 0) return zeros(y_shape, x.dtype(), x.device());
  Tensor y;
  if (x.numel() == 0) {  // no input channels (or padding alone): the bias alone, as on the CPU
    y = zeros(y_shape, x.dtype(), x.device());
  } else if (bf16_autocast_applies(x)) {  // in bf16, then back to float32
    y = to_float(kOp, conv2d_fwd_cuda(to_bf16(kOp, x), to_bf16(kOp, w), Tensor(), attrs));
  } else {
    y = empty(y_shape, x.dtype(), x.device());
    convolution_forward(kOp, gpu_context(kOp, x.device()), x, w, y, attrs, /*accumulate=*/false);
  }
  if (!bias.defined()) return y;
  // (O) over (N, O, H, W)
  return call<BinaryFwd>(y, bias.view({bias.numel(), 1, 1}), BinaryOp::kAdd);
}

// conv2d(x, w) + addend, cuDNN adding into y (beta = 1): y is the addend's memory when the
// caller gave it up and nothing else shares it, as on the CPU, else a copy of it.
Tensor conv2d_add_fwd_cuda(const Tensor& x, const Tensor& w, const Tensor& addend,
                           const Conv2dAttrs& attrs, bool reuse_addend) {
  constexpr const char* kOp = "Conv2dAddFwd";
  if (bf16_autocast_applies(x)) {  // the bf16 result is added in float32
    return call<BinaryFwd>(conv2d_fwd_cuda(x, w, Tensor(), attrs), addend, BinaryOp::kAdd);
  }
  Tensor y = may_write_into_addend(addend, reuse_addend) ? addend.detach() : addend.clone();
  if (y.numel() == 0 || x.numel() == 0) return y;
  convolution_forward(kOp, gpu_context(kOp, x.device()), x, w, y, attrs, /*accumulate=*/true);
  return y;
}

// dy: (N, O, OH, OW), w: (O, C/groups, KH, KW). Returns dx of shape x_shape.
Tensor conv2d_bwd_data_cuda(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                            const Conv2dAttrs& attrs) {
  constexpr const char* kOp = "Conv2dBwdData";
  if (bf16_autocast_applies(dy)) {
    return to_float(kOp, conv2d_bwd_data_cuda(to_bf16(kOp, dy), to_bf16(kOp, w), x_shape, attrs));
  }
  if (dy.numel() == 0 || Shape(x_shape).numel() == 0) {
    return zeros(x_shape, dy.dtype(), dy.device());
  }
  Tensor dx = empty(x_shape, dy.dtype(), dy.device());
  const GpuContext& gpu = gpu_context(kOp, dy.device());
  ConvDescriptors d(kOp, x_shape, w.shape(), dy.shape(), attrs, dy.dtype());
  AlgoChoice choice = choose_algorithm<cudnnConvolutionBwdDataAlgoPerf_t>(
      kOp, cache_key(kOp, x_shape, w.shape(), attrs, dy.dtype(), gpu.device_index), dy.device(),
      [&](cudnnConvolutionBwdDataAlgoPerf_t* perf, int* count, void* ws, size_t limit) {
        CUDNN_CHECK(kOp, cudnnFindConvolutionBackwardDataAlgorithmEx(
                             gpu.cudnn, d.w(), w.raw_data(), d.y(), dy.raw_data(), d.conv(),
                             d.x(), dx.mutable_raw_data(), 16, count, perf, ws, limit));
      });
  use_math(d, choice, dy.dtype());
  Tensor workspace = gpu_workspace(choice.workspace, dy.device());
  Scalars s(dy.dtype());
  CUDNN_CHECK(kOp, cudnnConvolutionBackwardData(
                       gpu.cudnn, s.one(), d.w(), w.raw_data(), d.y(), dy.raw_data(), d.conv(),
                       static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algo),
                       workspace.mutable_raw_data(), choice.workspace, s.zero(), d.x(),
                       dx.mutable_raw_data()));
  return dx;
}

// dy: (N, O, OH, OW), x: (N, C, H, W). Returns dw of shape w_shape.
Tensor conv2d_bwd_weight_cuda(const Tensor& dy, const Tensor& x, const Shape& w_shape,
                              const Conv2dAttrs& attrs) {
  constexpr const char* kOp = "Conv2dBwdWeight";
  if (bf16_autocast_applies(dy)) {
    return to_float(kOp, conv2d_bwd_weight_cuda(to_bf16(kOp, dy), to_bf16(kOp, x), w_shape, attrs));
  }
  if (dy.numel() == 0 || x.numel() == 0) return zeros(w_shape, dy.dtype(), dy.device());
  Tensor dw = empty(w_shape, dy.dtype(), dy.device());
  const GpuContext& gpu = gpu_context(kOp, dy.device());
  ConvDescriptors d(kOp, x.shape(), w_shape, dy.shape(), attrs, dy.dtype());
  AlgoChoice choice = choose_algorithm<cudnnConvolutionBwdFilterAlgoPerf_t>(
      kOp, cache_key(kOp, x.shape(), w_shape, attrs, dy.dtype(), gpu.device_index), dy.device(),
      [&](cudnnConvolutionBwdFilterAlgoPerf_t* perf, int* count, void* ws, size_t limit) {
        CUDNN_CHECK(kOp, cudnnFindConvolutionBackwardFilterAlgorithmEx(
                             gpu.cudnn, d.x(), x.raw_data(), d.y(), dy.raw_data(), d.conv(),
                             d.w(), dw.mutable_raw_data(), 16, count, perf, ws, limit));
      });
  use_math(d, choice, dy.dtype());
  Tensor workspace = gpu_workspace(choice.workspace, dy.device());
  Scalars s(dy.dtype());
  CUDNN_CHECK(kOp, cudnnConvolutionBackwardFilter(
                       gpu.cudnn, s.one(), d.x(), x.raw_data(), d.y(), dy.raw_data(), d.conv(),
                       static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algo),
                       workspace.mutable_raw_data(), choice.workspace, s.zero(), d.w(),
                       dw.mutable_raw_data()));
  return dw;
}

}  // namespace

BG_REGISTER_KERNEL(Conv2dFwd, kCuda, conv2d_fwd_cuda);
BG_REGISTER_KERNEL(Conv2dAddFwd, kCuda, conv2d_add_fwd_cuda);
BG_REGISTER_KERNEL(Conv2dBwdData, kCuda, conv2d_bwd_data_cuda);
BG_REGISTER_KERNEL(Conv2dBwdWeight, kCuda, conv2d_bwd_weight_cuda);

// cuDNN runs bf16 convolutions on every GPU it supports.
static const bool bf16_check_registered =
    register_bf16_autocast_check(DeviceType::kCUDA, [] { return std::string(); });

}  // namespace bitgrad::cuda_ops
