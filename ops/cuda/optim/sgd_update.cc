// The kCuda kernel of SgdUpdate (ops/sgd_update.h): every parameter in one launch
// (tensor_tables.h); the index of the first non-finite parameter, one integer, comes back to the
// host.
#include "core/cuda/cuda_stream.h"
#include "ops/cuda/common/gpu_check.h"
#include "ops/cuda/common/gpu_context.h"
#include "ops/cuda/optim/sgd_update_kernels.h"
#include "ops/cuda/optim/tensor_tables.h"
#include "ops/sgd_update.h"

namespace bitgrad::cuda_ops {
namespace {

// One parameter's tensors, as for_each_sgd_update hands them over.
struct ParamUpdate {
  Tensor param, grad, buffer;  // buffer: undefined when momentum == 0
};

template <typename T>
int64_t update(const std::vector<ParamUpdate>& updates, const SgdUpdateAttrs& attrs) {
  std::vector<SgdTensor<T>> tensors;
  std::vector<TensorChunk> chunks;
  for (size_t i = 0; i < updates.size(); ++i) {
    Tensor p = updates[i].param, b = updates[i].buffer;
    tensors.push_back({p.mutable_data<T>(), updates[i].grad.data<T>(),
                       mutable_data_or_null<T>(b), p.numel()});
    add_chunks(static_cast<int32_t>(i), p.numel(), chunks);
  }
  const Device device = updates.front().param.device();
  checked_int("SgdUpdate", static_cast<int64_t>(chunks.size()), "the number of chunks");
  Tensor tensor_table = to_device_table(tensors, device);
  Tensor chunk_table = to_device_table(chunks, device);
  const SgdOptions& o = attrs.options;
  const SgdCoefficients coefficients{o.lr, o.momentum, o.dampening,
                                     o.weight_decay, o.nesterov, attrs.first_step};
  const int64_t none = static_cast<int64_t>(updates.size());
  Tensor first = from_vector<int64_t>({none}, {1}, device);
  CUDA_OP_CHECK("SgdUpdate",
                launch_sgd_update(static_cast<const SgdTensor<T>*>(tensor_table.raw_data()),
                                  static_cast<const TensorChunk*>(chunk_table.raw_data()),
                                  static_cast<int64_t>(chunks.size()), coefficients,
                                  reinterpret_cast<unsigned long long*>(
                                      first.mutable_data<int64_t>()),
                                  cuda_stream(device.index)));
  const int64_t found = first.item<int64_t>();  // waits for the kernel
  return found == none ? -1 : found;
}

// Gathers the parameters (for_each_sgd_update checks the lists), then updates them all in one
// launch.
int64_t sgd_update_cuda(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                        const std::vector<Tensor>& momentum_buffers,
                        const SgdUpdateAttrs& attrs) {
  std::vector<ParamUpdate> updates;
  for_each_sgd_update(params, grads, momentum_buffers, attrs,
                      [&](const Tensor& p, const Tensor& g, const Tensor& b) {
                        BG_CHECK(p.dtype() == params.front().dtype(),
                                 "sgd_update: the CUDA kernel updates parameters of one dtype in ",
                                 "a call; got ", dtype_name(params.front().dtype()), " and ",
                                 dtype_name(p.dtype()));
                        updates.push_back({p, g, b});
                      });
  if (updates.empty()) return -1;
  int64_t first_non_finite = -1;
  BG_DISPATCH_FLOAT(params.front().dtype(), "sgd_update",
                    [&] { first_non_finite = update<scalar_t>(updates, attrs); });
  return first_non_finite;
}

}  // namespace

BG_REGISTER_KERNEL(SgdUpdate, kCuda, sgd_update_cuda);

}  // namespace bitgrad::cuda_ops
