#include "core/random.h"

#include <cmath>
#include <sstream>

namespace bitgrad {

double Generator::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

double Generator::normal() {
  // Box-Muller; 1 - u keeps the log argument in (0, 1].
  double u1 = 1.0 - uniform();
  double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

int64_t Generator::randint(int64_t bound) {
  BG_CHECK(bound > 0, "randint: bound must be positive, got ", bound);
  uint64_t range = static_cast<uint64_t>(bound);
  uint64_t limit = UINT64_MAX - UINT64_MAX % range;  // reject the biased tail
  uint64_t value;
  do value = engine_(); while (value >= limit);
  return static_cast<int64_t>(value % range);
}

std::string Generator::state() const {
  std::ostringstream out;
  out << engine_;
  return out.str();
}

void Generator::set_state(const std::string& state) {
  std::istringstream in(state);
  std::mt19937_64 restored;
  in >> restored;
  BG_CHECK(!in.fail(), "Generator::set_state: the saved state is malformed");
  engine_ = restored;
}

Generator& default_generator() {
  static Generator generator(0);
  return generator;
}

void manual_seed(uint64_t seed) { default_generator() = Generator(seed); }

namespace {

template <typename Sample>
Tensor sample(const Shape& shape, DType dtype, Device device, Sample next) {
  Tensor host = empty(shape, DType::kFloat64);
  double* values = host.mutable_data<double>();
  for (int64_t i = 0; i < host.numel(); ++i) values[i] = next();
  return host.to(dtype).to(device);
}

}  // namespace

Tensor randn(const Shape& shape, DType dtype, Device device, Generator& generator) {
  return sample(shape, dtype, device, [&] { return generator.normal(); });
}

Tensor rand(const Shape& shape, double low, double high, DType dtype, Device device,
            Generator& generator) {
  return sample(shape, dtype, device, [&] { return low + (high - low) * generator.uniform(); });
}

Tensor randperm(int64_t n, Generator& generator) {
  Tensor perm = empty({n}, DType::kInt64);
  int64_t* p = perm.mutable_data<int64_t>();
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[generator.randint(i + 1)]);
  return perm;
}

}  // namespace bitgrad
