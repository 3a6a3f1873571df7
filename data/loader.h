// Batches of BiT inputs, decoded, augmented and stacked by worker threads ahead of the model.
//
// The batch of step s is a pure function of (the ImageSet, the options, s): its examples are
// stream positions [s * batch, (s + 1) * batch) of a StreamOrder (data/stream_order.h), and
// the random crop and flip of position p come from Generator(derive_seed(seed, kAugment, p)).
// So the batches do not depend on the number of workers or on their scheduling, and a resumed
// run starts at any step with `first_step` and sees exactly the batches it would have seen.
//
// With augment = false and shuffle = false, step s is examples [s * batch, (s + 1) * batch)
// modulo N through the eval path: plain mini-batch SGD in file order.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "data/bit_preprocess.h"
#include "data/decoded_image_cache.h"
#include "data/image_set.h"
#include "data/stream_order.h"

namespace bitgrad {

// Which steps of the stream a loader yields: of every `period` consecutive steps, the `count`
// starting at `offset`. A data-parallel process takes its own micro-batches of every update
// this way (train/finetune.cc); the default is every step.
struct StepShard {
  int64_t period = 1, offset = 0, count = 1;
  int64_t step(int64_t index) const;  // the stream step of the loader's index-th batch
};

struct LoaderOptions {
  int64_t batch_size = 0;
  Resolution resolution;    // crop: the output size; precrop: the train path's resize
  bool augment = true;      // BiT's train path; false: the eval path (resize to crop)
  bool shuffle = true;      // a fresh permutation per epoch; false: file order
  uint64_t seed = 0;        // order and augmentation
  int64_t first_step = 0;   // the step of the first batch next() returns (resume); in `shard`
  StepShard shard;
  // Evaluation: examples 0 .. N-1 once, in file order, the last batch short; shuffle is
  // ignored and there are ceil(N / batch_size) steps (those of `shard` among them).
  bool single_pass = false;
  // Workers fill slices of the next batches together, so all of them stay busy; at most
  // `prefetch` batches are built or held ahead of next(), each B * 3 * crop^2 floats.
  int workers = 2;
  int prefetch = 4;
  // Decoded image files kept in memory between epochs (data/decoded_image_cache.h), up to this
  // many bytes; 0: none, and none in a single pass. A few-shot set fits whole: its files are
  // decoded once.
  int64_t decoded_cache_bytes = int64_t{512} << 20;
  // Given: the decoded images come from (and go to) this cache instead of one of the loader's
  // own, so that they outlive the loader; a run's evaluations share one. It must outlive the
  // loader and be made for the same set at decode_size(these options).
  DecodedImageCache* shared_decoded = nullptr;
};

// The size image files are decoded at for `options`: each path resizes down to it anyway
// (train: the precrop, or for an inception crop enough for its smallest box; eval: the crop).
DecodeSize decode_size(const LoaderOptions& options);

struct Batch {
  int64_t step = 0;               // in the stream (see StepShard)
  Tensor images;                  // float32 (B, 3, crop, crop) in [-1, 1]
  Tensor labels;                  // int64 (B)
  std::vector<int64_t> examples;  // the ImageSet indices, in batch order
};

// The batch of `step`, built on the calling thread: what the workers compute. Decoding errors
// name the image.
absl::StatusOr<Batch> build_batch(const ImageSet& set, const LoaderOptions& options,
                                  const StreamOrder& order, int64_t step);

class Loader {
 public:
  // The Loader keeps its own copy of `set` (sharing the pixels). Errors: bad options (a
  // non-positive batch, crop, worker or prefetch count, a crop larger than the precrop when
  // augmenting); Unavailable when the worker threads cannot all start.
  static absl::StatusOr<std::unique_ptr<Loader>> open(const ImageSet& set, LoaderOptions options);
  ~Loader();  // stops and joins the workers
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // The next step's batch, waiting for it if the workers are behind. Single-pass loaders have
  // num_steps() batches; asking for more is an error (bitgrad::Error).
  absl::StatusOr<Batch> next();

  int64_t num_steps() const;  // the batches this loader yields; -1 for the endless stream
  // Seconds next() has spent waiting for workers: near zero when data keeps up with the model.
  double wait_seconds() const;

 private:
  Loader(const ImageSet& set, LoaderOptions options);
  // A batch being filled: its slices still unfinished, and the first error of any of them.
  struct Building {
    Batch batch;
    int64_t slices_left = 0;
    absl::Status status;
  };
  struct Slice {
    int64_t index = 0, begin = 0, end = 0;  // examples [begin, end) of the index-th batch
  };

  void work();
  void stop_workers();  // joins the started workers
  bool past_end(int64_t index) const;
  // Under mutex_. Empty when the batch could not be allocated: it is then ready as an error.
  std::optional<Slice> claim_slice();

  const ImageSet set_;
  const LoaderOptions options_;
  const StreamOrder order_;

  mutable std::mutex mutex_;
  std::condition_variable can_claim_, batch_ready_;
  // Batches are counted by their index among this loader's (StepShard::step maps it to the
  // stream's step).
  int64_t next_index_;        // the batch next() returns
  int64_t claim_index_;       // the batch whose slice the next free worker fills ...
  int64_t claim_begin_ = 0;   // ... starting at this example of the batch
  std::map<int64_t, Building> building_;
  std::map<int64_t, absl::StatusOr<Batch>> ready_;
  bool stopping_ = false;
  double wait_seconds_ = 0;
  DecodedImageCache own_decoded_;  // after set_, which it reads
  DecodedImageCache* decoded_;     // own_decoded_ or options.shared_decoded
  std::vector<std::thread> workers_;
};

}  // namespace bitgrad
