#include "data/loader.h"

#include <chrono>
#include <cstring>
#include <exception>

#include "absl/strings/str_cat.h"
#include "core/random.h"

namespace bitgrad {

absl::StatusOr<Batch> build_batch(const ImageSet& set, const LoaderOptions& options,
                                  const StreamOrder& order, int64_t step) {
  const int64_t begin = step * options.batch_size;
  const int64_t count =
      options.single_pass ? std::min(options.batch_size, set.size() - begin) : options.batch_size;
  const int64_t crop = options.resolution.crop;
  const int64_t per_image = 3 * crop * crop;
  Batch batch;
  batch.step = step;
  batch.images = empty({count, 3, crop, crop});
  batch.labels = empty({count}, DType::kInt64);
  for (int64_t j = 0; j < count; ++j) {
    const int64_t position = begin + j;
    const int64_t example = options.single_pass ? position : order.example(position);
    absl::StatusOr<Image> image = set.image(example);
    if (!image.ok()) return image.status();
    Tensor chw;
    if (options.augment) {
      Generator generator(derive_seed(options.seed, SeedPurpose::kAugment, position));
      const Augmentation augmentation = draw_augmentation(options.resolution, generator);
      chw = preprocess_for_train(*image, options.resolution, augmentation);
    } else {
      chw = preprocess_for_eval(*image, crop);
    }
    std::memcpy(batch.images.mutable_data<float>() + j * per_image, chw.data<float>(),
                per_image * sizeof(float));
    batch.labels.mutable_data<int64_t>()[j] = set.labels[example];
    batch.examples.push_back(example);
  }
  return batch;
}

absl::StatusOr<std::unique_ptr<Loader>> Loader::open(const ImageSet& set, LoaderOptions options) {
  const Resolution& r = options.resolution;
  std::string problem;
  if (set.size() == 0) problem = absl::StrCat(set.source, " holds no images");
  if (options.batch_size < 1) problem = absl::StrCat("batch size ", options.batch_size, " < 1");
  if (r.crop < 1) problem = absl::StrCat("resolution ", r.crop, " < 1");
  if (options.augment && r.precrop < r.crop) {
    problem = absl::StrCat("the precrop size ", r.precrop, " is smaller than the crop ", r.crop);
  }
  if (options.workers < 1 || options.prefetch < 1) {
    problem = absl::StrCat(options.workers, " workers and ", options.prefetch,
                           " prefetched batches; both must be at least 1");
  }
  if (options.first_step < 0) problem = absl::StrCat("first step ", options.first_step, " < 0");
  if (!problem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("data loader for ", set.source, ": ", problem));
  }
  return std::unique_ptr<Loader>(new Loader(set, options));
}

Loader::Loader(const ImageSet& set, LoaderOptions options)
    : set_(set),
      options_(options),
      order_(set.size(), options.shuffle, options.seed),
      next_step_(options.first_step),
      next_claim_(options.first_step) {
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back(&Loader::work, this);
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  can_claim_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

int64_t Loader::num_steps() const {
  if (!options_.single_pass) return -1;
  return (set_.size() + options_.batch_size - 1) / options_.batch_size;
}

bool Loader::past_end(int64_t step) const {
  return options_.single_pass && step >= num_steps();
}

double Loader::wait_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return wait_seconds_;
}

void Loader::work() {
  while (true) {
    int64_t step;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      can_claim_.wait(lock, [&] {
        return stopping_ ||
               (next_claim_ < next_step_ + options_.prefetch && !past_end(next_claim_));
      });
      if (stopping_) return;
      step = next_claim_++;
    }
    absl::StatusOr<Batch> batch;
    try {
      batch = build_batch(set_, options_, order_, step);
    } catch (const std::exception& error) {  // a bug must not take the process down silently
      batch = absl::InternalError(absl::StrCat("data loader, step ", step, ": ", error.what()));
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.emplace(step, std::move(batch));
    }
    batch_ready_.notify_all();
  }
}

absl::StatusOr<Batch> Loader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  BG_CHECK(!past_end(next_step_), "Loader::next: all ", num_steps(), " batches of ", set_.source,
           " were already returned");
  const auto start = std::chrono::steady_clock::now();
  batch_ready_.wait(lock, [&] { return ready_.count(next_step_) > 0; });
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  absl::StatusOr<Batch> batch = std::move(ready_.extract(next_step_).mapped());
  ++next_step_;
  lock.unlock();
  can_claim_.notify_all();
  return batch;
}

}  // namespace bitgrad
