#include "ops/cuda/common/gpu_check.h"

#include <string>

namespace bitgrad::cuda_ops {

void throw_cudnn_error(const char* op, cudnnStatus_t status, const char* expression,
                       const char* file, int line) {
  // cuDNN 9 keeps a more specific message per thread (e.g. which descriptor field is wrong).
  char detail[1024] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  std::string description = detail[0] ? std::string(detail) : std::string("no further detail");
  detail::throw_gpu_library_error("cuDNN", cudnnGetErrorString(status), description.c_str(),
                                  expression, file, line, op);
}

void throw_cublas_error(const char* op, cublasStatus_t status, const char* expression,
                        const char* file, int line) {
  detail::throw_gpu_library_error("cuBLAS", cublasGetStatusName(status),
                                  cublasGetStatusString(status), expression, file, line, op);
}

}  // namespace bitgrad::cuda_ops
