// The kCuda kernel of FirstNonFinite (ops/non_finite.h): every tensor in one launch per dtype
// (tensor_tables.h); only the answer, one integer, comes back to the host.
#include "core/cuda/cuda_stream.h"
#include "ops/cuda/common/gpu_check.h"
#include "ops/cuda/common/gpu_context.h"
#include "ops/cuda/optim/non_finite_kernels.h"
#include "ops/cuda/optim/tensor_tables.h"
#include "ops/non_finite.h"

namespace bitgrad::cuda_ops {
namespace {

// Lowers `first` to the index of each tensor of dtype T that holds a NaN or an infinity.
template <typename T>
void check_tensors_of_dtype(const std::vector<Tensor>& tensors, Tensor& first) {
  std::vector<const T*> pointers;
  std::vector<TensorChunk> chunks;
  for (size_t i = 0; i < tensors.size(); ++i) {
    pointers.push_back(tensors[i].dtype() == dtype_of<T>() ? tensors[i].data<T>() : nullptr);
    if (pointers.back() != nullptr) {
      add_chunks(static_cast<int32_t>(i), tensors[i].numel(), chunks);
    }
  }
  if (chunks.empty()) return;
  const Device device = first.device();
  checked_int("FirstNonFinite", static_cast<int64_t>(chunks.size()), "the number of chunks");
  Tensor pointer_table = to_device_table(pointers, device);
  Tensor chunk_table = to_device_table(chunks, device);
  CUDA_OP_CHECK("FirstNonFinite",
                launch_first_non_finite(
                    static_cast<const T* const*>(pointer_table.raw_data()),
                    static_cast<const TensorChunk*>(chunk_table.raw_data()),
                    static_cast<int64_t>(chunks.size()),
                    reinterpret_cast<unsigned long long*>(first.mutable_data<int64_t>()),
                    cuda_stream(device.index)));
}

int64_t first_non_finite_cuda(const std::vector<Tensor>& tensors) {
  checked_int("FirstNonFinite", static_cast<int64_t>(tensors.size()), "the number of tensors");
  const int64_t none = static_cast<int64_t>(tensors.size());
  Tensor first = from_vector<int64_t>({none}, {1}, tensors.front().device());
  check_tensors_of_dtype<float>(tensors, first);
  check_tensors_of_dtype<double>(tensors, first);
  const int64_t found = first.item<int64_t>();  // waits for the kernels
  return found == none ? -1 : found;
}

}  // namespace

BG_REGISTER_KERNEL(FirstNonFinite, kCuda, first_non_finite_cuda);

}  // namespace bitgrad::cuda_ops
