// BG_REQUIRE_GPU(): the first line of a test that needs a CUDA GPU. Without one the test is
// skipped (not passed) with the reason, e.g. "needs a CUDA GPU: no usable CUDA device
// (cudaErrorInsufficientDriver: ...)". Targets using it link //core/cuda:runtime through
// //tests/testing:gpu, so CUDA tensors work whenever the GPU is there.
#pragma once

#include <string>

#include "core/cuda/cuda_device.h"
#include "gtest/gtest.h"

#define BG_REQUIRE_GPU()                                                    \
  do {                                                                      \
    std::string bg_why_no_gpu;                                              \
    if (!::bitgrad::cuda_available(&bg_why_no_gpu)) {                       \
      GTEST_SKIP() << "needs a CUDA GPU: " << bg_why_no_gpu;                \
    }                                                                       \
  } while (0)
