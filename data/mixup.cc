#include "data/mixup.h"

#include <cmath>

namespace bitgrad {
namespace {

// log of a Gamma(shape, 1) sample. Marsaglia and Tsang (2000) for shape >= 1; for shape < 1,
// Gamma(shape) = Gamma(shape + 1) * U^(1 / shape), whose log stays finite when the sample
// underflows.
double log_gamma_sample(double shape, Generator& generator) {
  BG_CHECK(shape > 0, "sample_gamma: the shape must be positive, got ", shape);
  if (shape < 1) {
    const double u = 1.0 - generator.uniform();  // in (0, 1]
    return log_gamma_sample(shape + 1, generator) + std::log(u) / shape;
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    const double x = generator.normal();
    const double t = 1.0 + c * x;
    if (t <= 0) continue;
    const double v = t * t * t;
    const double u = 1.0 - generator.uniform();
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return std::log(d * v);
  }
}

}  // namespace

double sample_gamma(double shape, Generator& generator) {
  return std::exp(log_gamma_sample(shape, generator));
}

double sample_beta(double a, double b, Generator& generator) {
  const double log_x = log_gamma_sample(a, generator);
  const double log_y = log_gamma_sample(b, generator);
  return 1.0 / (1.0 + std::exp(log_y - log_x));  // X / (X + Y)
}

MixedBatch mix_batch(const Tensor& images, const Tensor& labels, const Tensor& permutation,
                     double lam, int64_t num_classes) {
  const int64_t n = images.size(0);
  BG_CHECK(images.dtype() == DType::kFloat32 && images.dim() == 4, "mix_batch: expected float32 ",
           "images (N, C, H, W), got ", dtype_name(images.dtype()), " ", images.shape());
  BG_CHECK(labels.dtype() == DType::kInt64 && labels.shape() == Shape{n} &&
               permutation.dtype() == DType::kInt64 && permutation.shape() == Shape{n},
           "mix_batch: labels and permutation must be int64 (", n, "), got ", labels.shape(),
           " and ", permutation.shape());
  const int64_t* perm = permutation.data<int64_t>();
  const int64_t* y = labels.data<int64_t>();
  const int64_t per_image = images.numel() / n;
  const float keep = static_cast<float>(lam), take = static_cast<float>(1 - lam);

  MixedBatch out;
  out.lam = lam;
  out.labels = labels;
  out.images = empty_like(images);
  out.permuted_labels = empty({n}, DType::kInt64);
  out.targets = zeros({n, num_classes});
  const float* x = images.data<float>();
  float* mixed = out.images.mutable_data<float>();
  float* targets = out.targets.mutable_data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t partner = perm[i];
    BG_CHECK(0 <= partner && partner < n, "mix_batch: permutation entry ", partner,
             " outside [0, ", n, ")");
    BG_CHECK(0 <= y[i] && y[i] < num_classes, "mix_batch: label ", y[i], " outside [0, ",
             num_classes, ")");
    for (int64_t k = 0; k < per_image; ++k) {
      mixed[i * per_image + k] = keep * x[i * per_image + k] + take * x[partner * per_image + k];
    }
    out.permuted_labels.mutable_data<int64_t>()[i] = y[partner];
    targets[i * num_classes + y[i]] += keep;
    targets[i * num_classes + y[partner]] += take;
  }
  return out;
}

Mixup::Mixup(double alpha) : alpha_(alpha) {
  BG_CHECK(alpha >= 0, "Mixup: alpha must be >= 0 (0 turns mixup off), got ", alpha);
}

void Mixup::start_update(Generator& generator) {
  if (enabled()) lam_ = sample_beta(alpha_, alpha_, generator);
}

MixedBatch Mixup::apply(const Tensor& images, const Tensor& labels, int64_t num_classes,
                        Generator& generator) const {
  if (!enabled()) {
    MixedBatch out;
    out.images = images;
    out.labels = out.permuted_labels = out.targets = labels;
    return out;
  }
  return mix_batch(images, labels, randperm(images.size(0), generator), lam_, num_classes);
}

void Mixup::skip(int64_t batch_size, Generator& generator) const {
  if (enabled()) (void)randperm(batch_size, generator);
}

}  // namespace bitgrad
