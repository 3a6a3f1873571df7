// Seeded random numbers. One Generator is a stream of 64-bit values (std::mt19937_64) whose
// state can be saved and restored exactly, so training resumes bit-for-bit from a checkpoint.
// Normal samples use Box-Muller over our own uniform mapping, so the numbers do not depend on
// the standard library's distribution implementations.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "core/tensor.h"

namespace bitgrad {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : engine_(seed) {}

  uint64_t next_u64() { return engine_(); }
  double uniform();          // in [0, 1), 53 random bits
  double normal();           // mean 0, std 1
  int64_t randint(int64_t bound);  // in [0, bound), unbiased

  std::string state() const;  // an opaque text snapshot
  void set_state(const std::string& state);

 private:
  std::mt19937_64 engine_;
};

// The process-wide generator used when none is passed.
Generator& default_generator();
void manual_seed(uint64_t seed);

// Random tensors, sampled on the host in row-major order and moved to `device`.
Tensor randn(const Shape& shape, DType dtype = DType::kFloat32, Device device = Device::cpu(),
             Generator& generator = default_generator());
// rand: uniform in [low, high) in float64, then rounded to `dtype`, which can round a value just
// below `high` up to it: [low, high] in float32 (about once in 2^25 draws for [0, 1)).
Tensor rand(const Shape& shape, double low = 0.0, double high = 1.0, DType dtype = DType::kFloat32,
            Device device = Device::cpu(), Generator& generator = default_generator());
// A random permutation of 0..n-1 (int64), Fisher-Yates.
Tensor randperm(int64_t n, Generator& generator = default_generator());

}  // namespace bitgrad
