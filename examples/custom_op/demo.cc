// bazel run //examples/custom_op:demo
// Uses the SiLU custom op like any built-in one: forward, backward, and the kernel registry,
// which shows the ref, cpu and cuda kernels this binary linked in.
#include <exception>
#include <iostream>
#include <string>

#include "autograd/engine.h"
#include "core/dispatch.h"
#include "core/storage.h"
#include "core/tensor.h"
#include "examples/custom_op/silu.h"
#include "ops/reduce.h"

int main() {
  using bitgrad::Device;
  using bitgrad::Tensor;
  try {
    Tensor x = bitgrad::from_vector<float>({-3, -1, 0, 0.5, 2}, {5});
    x.set_requires_grad();
    Tensor y = custom_op::silu(x);
    bitgrad::sum(y).backward();
    std::cout << "x             = " << x << "\n"
              << "silu(x)       = " << y << "\n"
              << "d sum(y) / dx = " << x.grad() << "\n\n"
              << bitgrad::registry_dump() << "\n";

    std::string why_not;
    if (bitgrad::device_available(bitgrad::DeviceType::kCUDA, &why_not)) {
      Tensor x_gpu = x.detach().to(Device::cuda()).set_requires_grad();
      Tensor y_gpu = custom_op::silu(x_gpu);
      y_gpu.backward(bitgrad::ones_like(y_gpu));
      std::cout << "on cuda:0, d sum(y) / dx = " << x_gpu.grad() << "\n";
    } else {
      std::cout << "CUDA part skipped: " << why_not << "\n";
    }
  } catch (const std::exception& error) {  // bitgrad::Error and the standard library's
    std::cerr << "demo: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
