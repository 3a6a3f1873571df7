#include "data/loader.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <optional>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "core/random.h"
#include "core/stopwatch.h"
#include "data/decoded_image_cache.h"

namespace bitgrad {

namespace {

// A worker's unit of work: this many examples of one batch.
constexpr int64_t kExamplesPerSlice = 8;

int64_t batch_count(const ImageSet& set, const LoaderOptions& options, int64_t step) {
  if (!options.single_pass) return options.batch_size;
  return std::min(options.batch_size, set.size() - step * options.batch_size);
}

// An error of the batch of `step`, saying so.
absl::Status batch_error(int64_t step, absl::StatusCode code, absl::string_view what) {
  return absl::Status(code, absl::StrCat("data loader, step ", step, ": ", what));
}

// Fails, rather than throws, when the batch does not fit in memory: it is made on a worker.
absl::StatusOr<Batch> allocate_batch(const ImageSet& set, const LoaderOptions& options,
                                     int64_t step) {
  const int64_t count = batch_count(set, options, step), crop = options.resolution.crop;
  Batch batch;
  batch.step = step;
  try {
    batch.images = empty({count, 3, crop, crop});
  } catch (const OutOfMemoryError& error) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "no memory for a batch of ", count, " images of 3x", crop, "x", crop, " floats (",
        absl::StrFormat("%.1f", count * 3.0 * crop * crop * 4 / 1e9), " GB): ", error.what()));
  } catch (const std::exception& error) {  // a shape past int64 (bitgrad::Error), say
    return absl::InvalidArgumentError(absl::StrCat("a batch of ", count, " images of 3x", crop,
                                                   "x", crop, " floats: ", error.what()));
  }
  batch.labels = empty({count}, DType::kInt64);
  batch.examples.resize(count);
  return batch;
}

// Examples [begin, end) of an allocated batch. Slices touch disjoint memory, so several
// workers fill one batch at once.
absl::Status fill_slice(const ImageSet& set, DecodedImageCache& decoded,
                        const LoaderOptions& options, const StreamOrder& order, int64_t begin,
                        int64_t end, Batch& batch) {
  const int64_t crop = options.resolution.crop;
  const int64_t per_image = 3 * crop * crop;
  float* images = batch.images.mutable_data<float>();
  int64_t* labels = batch.labels.mutable_data<int64_t>();
  for (int64_t j = begin; j < end; ++j) {
    const int64_t position = batch.step * options.batch_size + j;
    const int64_t example = options.single_pass ? position : order.example(position);
    absl::StatusOr<std::shared_ptr<const Image>> image = decoded.image(example);
    if (!image.ok()) return image.status();
    Tensor chw;
    if (options.augment) {
      Generator generator(derive_seed(options.seed, SeedPurpose::kAugment, position));
      const Augmentation augmentation =
          draw_augmentation(options.resolution, (*image)->height, (*image)->width, generator);
      chw = preprocess_for_train(**image, options.resolution, augmentation);
    } else {
      chw = preprocess_for_eval(**image, crop);
    }
    std::memcpy(images + j * per_image, chw.data<float>(), per_image * sizeof(float));
    labels[j] = set.labels[example];
    batch.examples[j] = example;
  }
  return absl::OkStatus();
}

// The loader's index of stream step `step`, which must be one of `shard`'s.
int64_t index_of_step(const StepShard& shard, int64_t step) {
  return step / shard.period * shard.count + (step % shard.period - shard.offset);
}

// The stream's steps below `end` that `shard` takes.
int64_t steps_below(const StepShard& shard, int64_t end) {
  return end / shard.period * shard.count +
         std::clamp<int64_t>(end % shard.period - shard.offset, 0, shard.count);
}

}  // namespace

DecodeSize decode_size(const LoaderOptions& options) {
  const Resolution& r = options.resolution;
  int64_t side = options.augment ? r.precrop : r.crop;
  // An inception crop's smallest box, sqrt(min_box_area) of a side, still gets `crop` pixels.
  if (options.augment && r.min_box_area > 0) {
    side = static_cast<int64_t>(std::ceil(r.crop / std::sqrt(r.min_box_area)));
  }
  return {side, side};
}

int64_t StepShard::step(int64_t index) const {
  return index / count * period + offset + index % count;
}

absl::StatusOr<Batch> build_batch(const ImageSet& set, const LoaderOptions& options,
                                  const StreamOrder& order, int64_t step) {
  absl::StatusOr<Batch> allocated = allocate_batch(set, options, step);
  if (!allocated.ok()) return allocated.status();
  Batch batch = *std::move(allocated);
  const int64_t count = batch.labels.numel();
  DecodedImageCache uncached(set, decode_size(options), /*budget_bytes=*/0);
  if (absl::Status status = fill_slice(set, uncached, options, order, 0, count, batch);
      !status.ok()) {
    return status;
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
  if (r.min_box_area < 0 || r.min_box_area > 1) {
    problem = absl::StrCat("the inception crop's minimum box area ", r.min_box_area,
                           " is not a fraction in [0, 1]");
  }
  if (const DecodedImageCache* shared = options.shared_decoded; shared != nullptr) {
    const DecodeSize want = decode_size(options), has = shared->decode_size();
    if (shared->set().size() != set.size() || shared->set().source != set.source ||
        has.min_height != want.min_height || has.min_width != want.min_width) {
      problem = absl::StrCat("the shared decoded-image cache holds ", shared->set().size(),
                             " images of ", shared->set().source, " decoded at ", has.min_height,
                             "x", has.min_width, "; this loader needs ", want.min_height, "x",
                             want.min_width);
    }
  }
  if (options.workers < 1 || options.prefetch < 1) {
    problem = absl::StrCat(options.workers, " workers and ", options.prefetch,
                           " prefetched batches; both must be at least 1");
  }
  const StepShard& shard = options.shard;
  if (shard.period < 1 || shard.count < 1 || shard.offset < 0 ||
      shard.offset + shard.count > shard.period) {
    problem = absl::StrCat("step shard of ", shard.count, " steps at offset ", shard.offset,
                           " in every ", shard.period, ": it must fit in the period");
  } else if (options.first_step < 0) {
    problem = absl::StrCat("first step ", options.first_step, " < 0");
  } else if (const int64_t phase = options.first_step % shard.period;
             phase < shard.offset || phase >= shard.offset + shard.count) {
    problem = absl::StrCat("first step ", options.first_step, " is not one of the shard's (",
                           shard.count, " at offset ", shard.offset, " in every ", shard.period,
                           ")");
  }
  if (!problem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("data loader for ", set.source, ": ", problem));
  }
  try {
    return std::unique_ptr<Loader>(new Loader(set, options));
  } catch (const std::system_error& e) {
    return absl::UnavailableError(
        absl::StrCat("data loader for ", set.source, ": could not start ", options.workers,
                     " worker threads (", e.what(), "); use fewer workers"));
  }
}

Loader::Loader(const ImageSet& set, LoaderOptions options)
    : set_(set),
      options_(options),
      order_(set.size(), options.shuffle, options.seed),
      next_index_(index_of_step(options.shard, options.first_step)),
      claim_index_(next_index_),
      // A single pass sees each image once: nothing to keep.
      own_decoded_(set_, decode_size(options_),
                   options_.single_pass || options_.shared_decoded != nullptr
                       ? 0
                       : options_.decoded_cache_bytes),
      decoded_(options_.shared_decoded != nullptr ? options_.shared_decoded : &own_decoded_) {
  try {
    for (int i = 0; i < options_.workers; ++i) workers_.emplace_back(&Loader::work, this);
  } catch (...) {
    stop_workers();  // no destructor runs when a constructor throws
    throw;
  }
}

Loader::~Loader() { stop_workers(); }

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  can_claim_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

int64_t Loader::num_steps() const {
  if (!options_.single_pass) return -1;
  return steps_below(options_.shard, (set_.size() + options_.batch_size - 1) / options_.batch_size);
}

bool Loader::past_end(int64_t index) const {
  return options_.single_pass && index >= num_steps();
}

double Loader::wait_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return wait_seconds_;
}

std::optional<Loader::Slice> Loader::claim_slice() {
  if (claim_begin_ == 0) {  // the batch's first slice: make room for all of it
    const int64_t step = options_.shard.step(claim_index_);
    absl::StatusOr<Batch> batch = allocate_batch(set_, options_, step);
    if (!batch.ok()) {  // the batch is its error; nothing is built
      ready_.emplace(claim_index_, batch_error(step, absl::StatusCode::kResourceExhausted,
                                               batch.status().message()));
      ++claim_index_;
      return std::nullopt;
    }
    Building& building = building_[claim_index_];
    building.batch = *std::move(batch);
    building.slices_left =
        (building.batch.labels.numel() + kExamplesPerSlice - 1) / kExamplesPerSlice;
  }
  const int64_t count = building_[claim_index_].batch.labels.numel();
  Slice slice{claim_index_, claim_begin_, std::min(count, claim_begin_ + kExamplesPerSlice)};
  claim_begin_ = slice.end;
  if (claim_begin_ == count) {
    ++claim_index_;
    claim_begin_ = 0;
  }
  return slice;
}

void Loader::work() {
  while (true) {
    Slice slice;
    Batch* batch;  // in building_, which keeps it in place until its last slice is done
    {
      std::unique_lock<std::mutex> lock(mutex_);
      can_claim_.wait(lock, [&] {
        return stopping_ ||
               (claim_index_ < next_index_ + options_.prefetch && !past_end(claim_index_));
      });
      if (stopping_) return;
      std::optional<Slice> claimed = claim_slice();
      if (!claimed) {
        lock.unlock();
        batch_ready_.notify_all();
        continue;
      }
      slice = *claimed;
      batch = &building_[slice.index].batch;
    }
    absl::Status status;
    try {
      status = fill_slice(set_, *decoded_, options_, order_, slice.begin, slice.end, *batch);
    } catch (const std::exception& error) {  // a bug must not take the process down silently
      status = batch_error(options_.shard.step(slice.index), absl::StatusCode::kInternal,
                           error.what());
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      Building& building = building_[slice.index];
      // Moved, not copied: an error has one owner at a time, handed over under the mutex. (A
      // copy freed by a worker while next()'s caller read it was safe through Abseil's atomic
      // refcount, which TSan cannot see in Debian's uninstrumented library: it reported a race.)
      if (building.status.ok()) building.status = std::move(status);
      if (--building.slices_left > 0) continue;
      if (building.status.ok()) {
        ready_.emplace(slice.index, std::move(building.batch));
      } else {
        ready_.emplace(slice.index, std::move(building.status));
      }
      building_.erase(slice.index);
    }
    batch_ready_.notify_all();
  }
}

absl::StatusOr<Batch> Loader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  BG_CHECK(!past_end(next_index_), "Loader::next: all ", num_steps(), " batches of ",
           set_.source, " were already returned");
  const SteadyClock::time_point start = SteadyClock::now();
  batch_ready_.wait(lock, [&] { return ready_.count(next_index_) > 0; });
  wait_seconds_ += seconds_since(start);
  absl::StatusOr<Batch> batch = std::move(ready_.extract(next_index_).mapped());
  ++next_index_;
  lock.unlock();
  can_claim_.notify_all();
  return batch;
}

}  // namespace bitgrad
