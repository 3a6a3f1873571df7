// The kCuda kernel of SgdUpdate (ops/sgd_update.h): every parameter in one launch. The tables
// of pointers and chunks go to the GPU with the update (an asynchronous copy from pinned
// memory, on the same stream).
#include <cstring>

#include "core/cuda/cuda_stream.h"
#include "ops/cuda/common/gpu_check.h"
#include "ops/cuda/common/gpu_context.h"
#include "ops/cuda/optim/sgd_update_kernels.h"
#include "ops/sgd_update.h"

namespace bitgrad::cuda_ops {
namespace {

constexpr int64_t kChunkElements = 1 << 16;  // per block: large enough to hide its start

// `values` copied into a device tensor of bytes on `device` (freed when the returned tensor is,
// which the stream orders after the kernel that reads it).
template <typename V>
Tensor to_device_table(const std::vector<V>& values, Device device) {
  const int64_t bytes = static_cast<int64_t>(values.size() * sizeof(V));
  Tensor host = empty({bytes}, DType::kUInt8);
  std::memcpy(host.mutable_raw_data(), values.data(), bytes);
  return host.to(device);
}

template <typename T>
void update(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
            const std::vector<Tensor>& buffers, const SgdUpdateAttrs& attrs) {
  std::vector<SgdTensor<T>> tensors;
  std::vector<SgdChunk> chunks;
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor p = params[i], b = attrs.options.momentum != 0 ? buffers[i] : Tensor();
    tensors.push_back(
        {p.mutable_data<T>(), grads[i].data<T>(), mutable_data_or_null<T>(b), p.numel()});
    for (int64_t begin = 0; begin < p.numel(); begin += kChunkElements) {
      chunks.push_back({static_cast<int32_t>(i), begin, std::min(kChunkElements, p.numel() - begin)});
    }
  }
  const Device device = params.front().device();
  checked_int("SgdUpdate", static_cast<int64_t>(chunks.size()), "the number of chunks");
  Tensor tensor_table = to_device_table(tensors, device);
  Tensor chunk_table = to_device_table(chunks, device);
  const SgdOptions& o = attrs.options;
  const SgdCoefficients coefficients{o.lr, o.momentum, o.dampening,
                                     o.weight_decay, o.nesterov, attrs.first_step};
  CUDA_OP_CHECK("SgdUpdate",
                launch_sgd_update(static_cast<const SgdTensor<T>*>(tensor_table.raw_data()),
                                  static_cast<const SgdChunk*>(chunk_table.raw_data()),
                                  static_cast<int64_t>(chunks.size()), coefficients,
                                  cuda_stream(device.index)));
}

void sgd_update_cuda(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                     const std::vector<Tensor>& momentum_buffers, const SgdUpdateAttrs& attrs) {
  check_sgd_update_args(params, grads, momentum_buffers, attrs);
  if (params.empty()) return;
  const DType dtype = params.front().dtype();
  for (const Tensor& p : params) {
    BG_CHECK(p.dtype() == dtype, "sgd_update: the CUDA kernel updates parameters of one dtype in ",
             "a call; got ", dtype_name(dtype), " and ", dtype_name(p.dtype()));
  }
  BG_DISPATCH_FLOAT(dtype, "sgd_update", [&] { update<scalar_t>(params, grads, momentum_buffers, attrs); });
}

}  // namespace

BG_REGISTER_KERNEL(SgdUpdate, kCuda, sgd_update_cuda);

}  // namespace bitgrad::cuda_ops
