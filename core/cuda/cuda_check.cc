#include "core/cuda/cuda_check.h"

#include "core/check.h"

namespace bitgrad::detail {

void throw_gpu_library_error(const char* library, const char* name, const char* description,
                             const char* expression, const char* file, int line, const char* op) {
  std::string what = *name ? str_cat(name, " (", description, ")") : std::string(description);
  std::string prefix = op ? str_cat(op, ": ") : std::string();
  throw_check_failure(file, line,
                      str_cat(prefix, library, " call ", expression, " failed: ", what));
}

void throw_cuda_error(cudaError_t status, const char* expression, const char* file, int line,
                      const char* op) {
  cudaGetLastError();
  throw_gpu_library_error("CUDA", cudaGetErrorName(status), cudaGetErrorString(status),
                          expression, file, line, op);
}

}  // namespace bitgrad::detail
